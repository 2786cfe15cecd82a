"""Drive the Odoo MCP server with the official MCP Python SDK, as a user would.

Runs in the SDK's own virtualenv (SDK 2.x or 1.x), never inside Odoo's. Prints
one JSON document with what the client saw; the pytest side asserts on it.

    python sdk_flow.py --url http://127.0.0.1:8069/mcp --key KEY [--sse] [--legacy]
    python sdk_flow.py --url ... --key KEY --ambiguous [--answer REFERENCE]
    python sdk_flow.py --url ... --key KEY --listen
    python sdk_flow.py --url ... --key KEY --edit --answer REFERENCE \
        --foreign REFERENCE --confirmed REFERENCE

SDK 2.x negotiates in its default mode (``server/discover`` at 2026-07-28
first); ``--legacy`` makes it initialize as SDK 1.x does. ``--ambiguous``
asks for "desk" instead, which matches two products; with ``--answer`` the
client can be asked which one it meant (it chooses REFERENCE). ``--listen``
(SDK 2.x) opens a ``subscriptions/listen`` stream for tool list changes.
``--edit`` makes a quotation, changes it (the client is asked which "desk"
it meant), tries the same on another user's quotation (``--foreign``) and on
a confirmed one of its own (``--confirmed``), then sends it: declined, then
accepted when asked, and from a second client that cannot be asked, without
then with ``confirm: true``.
"""

import argparse
import asyncio
import contextlib
import json
from importlib.metadata import version

SDK_MAJOR = int(version("mcp").split(".")[0])

if SDK_MAJOR >= 2:
    import httpx2
    from mcp import Client
    from mcp.client.sse import sse_client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared.exceptions import MCPError
else:
    from mcp import ClientSession
    from mcp.client.sse import sse_client
    from mcp.client.streamable_http import streamablehttp_client
    from mcp.shared.exceptions import McpError as MCPError

REQUEST = {
    "customer_name": "Lucía Fernández",
    "email": "lucia.sdk@example.com",
    "lines": [
        {"product": "DESK-STD", "quantity": 2},
        {"product": "Ergonomic Chair", "quantity": 3},
    ],
}


def structured(result):
    if SDK_MAJOR >= 2:
        return result.structured_content
    return result.structuredContent


def is_error(result):
    return result.is_error if SDK_MAJOR >= 2 else result.isError


async def follow(client, created, report):
    """Poll a created request until it is built or failed, then read it."""
    report["created"] = structured(created)
    tracking_id = report["created"]["tracking_id"]
    for _attempt in range(120):
        status = await client.call_tool(
            "get_quotation_status", {"tracking_id": tracking_id}
        )
        report["status"] = structured(status)
        if report["status"]["status"] in ("done", "failed"):
            break
        await asyncio.sleep(0.5)
    reference = report["status"].get("order_reference")
    if reference:
        quotation = await client.call_tool("get_quotation", {"reference": reference})
        report["quotation"] = structured(quotation)


async def flow(client, report):
    tools = await client.list_tools()
    report["tools"] = sorted(tool.name for tool in tools.tools)
    created = await client.call_tool("create_quotation", REQUEST)
    await follow(client, created, report)
    products = await client.call_tool("search_products", {"query": "desk"})
    report["products"] = structured(products)
    invalid = await client.call_tool(
        "create_quotation", {"customer_name": "", "lines": []}
    )
    report["invalid"] = {
        "is_error": is_error(invalid),
        "text": invalid.content[0].text,
    }
    try:
        await client.call_tool("no_such_tool", {})
    except MCPError as error:
        report["unknown_tool_error"] = error.error.code


async def ambiguous_flow(client, report):
    """A product that matches two: asked, or refused later with candidates."""
    created = await client.call_tool(
        "create_quotation",
        {
            "customer_name": "Ambiguous Desk Buyer",
            "email": "ambiguous@example.com",
            "lines": [{"product": "desk", "quantity": 1}],
        },
    )
    await follow(client, created, report)


def answer_with(reference, report, confirmations=()):
    """An elicitation callback that picks ``reference`` and records the
    question; asked to confirm a send, it accepts or declines in turn as
    ``confirmations`` say."""
    from mcp.types import ElicitResult  # noqa: PLC0415

    confirmations = list(confirmations)

    async def answer(_context, params):
        schema = params.requested_schema if SDK_MAJOR >= 2 else params.requestedSchema
        if "confirm" in schema["properties"]:
            report.setdefault("confirm_asked", []).append(params.message)
            if confirmations.pop(0):
                return ElicitResult(action="accept", content={"confirm": True})
            return ElicitResult(action="decline")
        report["asked"] = {
            "message": params.message,
            "options": [
                option["const"] for option in schema["properties"]["product"]["oneOf"]
            ],
        }
        return ElicitResult(action="accept", content={"product": reference})

    return answer


def outcome(result):
    """What a call that may be refused gave: its answer, or the refusal."""
    if is_error(result):
        return {"is_error": True, "text": result.content[0].text}
    return structured(result)


async def update(client, quotation, *lines):
    """update_quotation with ``(product, quantity)`` lines."""
    changed = await client.call_tool(
        "update_quotation",
        {
            "quotation": quotation,
            "lines": [{"product": p, "quantity": q} for p, q in lines],
        },
    )
    return outcome(changed)


async def send(client, quotation, **confirm):
    sent = await client.call_tool("send_quotation", {"quotation": quotation, **confirm})
    return outcome(sent)


async def edit_flow(client, report, args):
    """Change and send one's own quotation; refused for the others."""
    created = await client.call_tool("create_quotation", REQUEST)
    await follow(client, created, report)
    reference = report["quotation"]["reference"]
    report["changed"] = await update(
        client, reference, ("CHAIR-ERG", 1), ("DESK-STD", 0)
    )
    report["chosen"] = await update(client, reference, ("desk", 2))
    report["added"] = await update(client, reference, ("DESK-STD", 1))
    quotation = await client.call_tool("get_quotation", {"reference": reference})
    report["updated"] = structured(quotation)
    for name in ("foreign", "confirmed"):
        quotation = getattr(args, name)
        report[f"update_{name}"] = await update(client, quotation, ("CHAIR-ERG", 9))
    report["declined"] = await send(client, reference, confirm=True)
    report["accepted"] = await send(client, reference)
    async with connect(args, None) as (plain, _version, _server):
        for name in ("foreign", "confirmed"):
            quotation = getattr(args, name)
            report[f"send_{name}"] = await send(plain, quotation, confirm=True)
        report["unconfirmed"] = await send(plain, reference)
        report["confirmed_send"] = await send(plain, reference, confirm=True)


async def listen_flow(client, report):
    """Open a subscriptions/listen stream and read it to its end."""
    async with client.listen(tools_list_changed=True) as subscription:
        report["honored"] = subscription.honored.model_dump(exclude_none=True)
        report["events"] = [repr(event) async for event in subscription]


def flow_of(args):
    if args.listen:
        return listen_flow
    if args.edit:
        return lambda client, report: edit_flow(client, report, args)
    return ambiguous_flow if args.ambiguous else flow


@contextlib.asynccontextmanager
async def connect_v2(args, callback):
    headers = {"Authorization": f"Bearer {args.key}"}
    if args.sse:
        transport = sse_client(args.url, headers=headers)
    else:
        transport = streamable_http_client(
            args.url, http_client=httpx2.AsyncClient(headers=headers, timeout=60)
        )
    async with Client(
        transport,
        mode="legacy" if args.legacy else "auto",
        elicitation_callback=callback,
    ) as client:
        yield client, client.protocol_version, client.server_info.name


@contextlib.asynccontextmanager
async def connect_v1(args, callback):
    headers = {"Authorization": f"Bearer {args.key}"}
    if args.sse:
        transport = sse_client(args.url, headers=headers)
    else:
        transport = streamablehttp_client(args.url, headers=headers)
    async with (
        transport as streams,
        ClientSession(streams[0], streams[1], elicitation_callback=callback) as client,
    ):
        initialized = await client.initialize()
        yield client, initialized.protocolVersion, initialized.serverInfo.name


connect = connect_v2 if SDK_MAJOR >= 2 else connect_v1


async def run(args, report):
    callback = None
    if args.answer:
        # a send is declined when first asked, accepted the second time
        callback = answer_with(args.answer, report, confirmations=(False, True))
    async with connect(args, callback) as (client, protocol_version, server):
        report["protocol_version"] = protocol_version
        report["server"] = server
        await flow_of(args)(client, report)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--sse", action="store_true")
    parser.add_argument("--legacy", action="store_true")
    parser.add_argument("--ambiguous", action="store_true")
    parser.add_argument("--answer")
    parser.add_argument("--listen", action="store_true")
    parser.add_argument("--edit", action="store_true")
    parser.add_argument("--foreign")
    parser.add_argument("--confirmed")
    args = parser.parse_args()
    report = {"sdk": version("mcp")}
    try:
        await run(args, report)
    except BaseException as error:  # report what the client saw, then fail
        report["exception"] = f"{type(error).__name__}: {error!r}"[:2000]
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
