#!/usr/bin/env python3
"""An MCP tool call with an OAuth access token against the same call with an
Odoo API key, side by side in one run against a real Odoo server.

Both credentials go through one indexed query before the call runs (the API
key's on its cached digest, the token's on its hash); the target is a ratio
within 10 %. The two are interleaved request by request, so that the shared
machine's swings hit both alike. Bounded: ``--requests`` calls each.

    make bench        # starts its own odoo-bin --workers 2 (harness environment)
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from helpers.oauth_client import Connector, mcp_post
from helpers.servers import start_odoo_server, stop_odoo_server

STATUS_CALL = {"jsonrpc": "2.0", "id": 3, "method": "tools/call"}


def create_task(server, credential):
    answer = mcp_post(
        server,
        credential,
        {
            **STATUS_CALL,
            "params": {
                "name": "create_quotation",
                "arguments": {
                    "customer_name": "Bench Customer",
                    "email": "bench.oauth@example.com",
                    "lines": [{"product": "DESK-STD", "quantity": 1}],
                },
            },
        },
    )
    return answer.json()["result"]["structuredContent"]["tracking_id"]


def status_call(server, credential, tracking_id):
    message = {
        **STATUS_CALL,
        "params": {
            "name": "get_quotation_status",
            "arguments": {"tracking_id": tracking_id},
        },
    }

    def call():
        answer = mcp_post(server, credential, message)
        if answer.status_code != 200:
            raise SystemExit(f"HTTP {answer.status_code}: {answer.text[:300]}")

    return call


def run(server, requests):
    access = Connector(server).connect().tokens()["access_token"]
    operations = {
        "tools/call with an API key": status_call(
            server, server.api_key, create_task(server, server.api_key)
        ),
        "tools/call with an OAuth token": status_call(
            server, access, create_task(server, access)
        ),
    }
    timings = {name: [] for name in operations}
    for _ in range(10):  # warm every worker's caches
        for operation in operations.values():
            operation()
    for _ in range(requests):
        for name, operation in operations.items():
            started = time.perf_counter()
            operation()
            timings[name].append((time.perf_counter() - started) * 1000)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    key_p50 = medians["tools/call with an API key"]
    print(
        f"{requests} interleaved get_quotation_status calls each against {server.url}"
    )
    print(f"{'credential':32} {'p50 ms':>8} {'p99 ms':>8} {'p50/API key':>12}")
    for name, values in timings.items():
        values.sort()
        p99 = values[int(len(values) * 0.99) - 1]
        ratio = medians[name] / key_p50
        print(f"{name:32} {medians[name]:8.1f} {p99:8.1f} {ratio:11.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    print("starting odoo-bin --workers 2...", flush=True)
    server = start_odoo_server(
        Path(tempfile.mkdtemp(prefix="omq-bench-")),
        params={"odoo_mcp_quotation.rate_limit_per_minute": "1000000"},
    )
    try:
        run(server, args.requests)
    finally:
        stop_odoo_server(server)


if __name__ == "__main__":
    main()
