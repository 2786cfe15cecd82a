"""Time MCP servers with the official SDK 2.x client, as an agent uses them.

Runs in the SDK's own virtualenv (never Odoo's) and prints one JSON document
of timings in milliseconds per target: a new session (connect in the
client's default mode, then ``tools/list``) and one read tool call on a
connected client; and a plain GET of ``--health`` with the same HTTP client
library. The targets are measured in turns, one request each, so that a
machine whose load changes during the run weighs on all of them alike.

    python mcp_sdk_timing.py --targets JSON [--health URL]

``--targets``: ``[{"name", "url", "key" (or null), "tool", "arguments"}]``.
"""

import argparse
import asyncio
import json
import time
from contextlib import AsyncExitStack

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


def headers_of(target):
    return {"Authorization": f"Bearer {target['key']}"} if target["key"] else {}


async def timed(operation):
    started = time.perf_counter()
    await operation()
    return (time.perf_counter() - started) * 1000


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", required=True)
    parser.add_argument("--health")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--sessions", type=int, default=30)
    args = parser.parse_args()
    targets = json.loads(args.targets)
    report = {
        target["name"]: {"read_call": [], "new_session": []} for target in targets
    }
    operations = []  # (name, kind, coroutine function), measured in turns
    async with AsyncExitStack() as stack:
        for target in targets:
            http = await stack.enter_async_context(
                httpx2.AsyncClient(headers=headers_of(target), timeout=60)
            )
            client = await stack.enter_async_context(
                Client(streamable_http_client(target["url"], http_client=http))
            )
            await client.list_tools()
            report[target["name"]]["protocol_version"] = client.protocol_version

            async def read_call(client=client, target=target):
                result = await client.call_tool(target["tool"], target["arguments"])
                if result.is_error:
                    raise SystemExit(f"{target['tool']} failed: {result.content}")

            operations.append((target["name"], "read_call", read_call))
        if args.health:
            health_client = await stack.enter_async_context(
                httpx2.AsyncClient(timeout=60)
            )

            async def health():
                (await health_client.get(args.health)).raise_for_status()

            report["health"] = []
            operations.append(("health", None, health))
        for _warm_up in range(10):
            for _name, _kind, operation in operations:
                await operation()
        for _round in range(args.requests):
            for name, kind, operation in operations:
                elapsed = await timed(operation)
                (report[name][kind] if kind else report[name]).append(elapsed)

    async def new_session(target):
        async with (
            httpx2.AsyncClient(headers=headers_of(target), timeout=60) as http,
            Client(streamable_http_client(target["url"], http_client=http)) as client,
        ):
            await client.list_tools()

    for round_number in range(args.sessions + 3):
        for target in targets:
            elapsed = await timed(lambda target=target: new_session(target))
            if round_number >= 3:  # the first ones warm up
                report[target["name"]]["new_session"].append(elapsed)
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
