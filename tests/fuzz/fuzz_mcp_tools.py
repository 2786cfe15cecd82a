"""Fuzz every MCP tool with arguments generated from its own input schema.

Runs in the fuzz virtualenv (Hypothesis, hypothesis-jsonschema) against a
real server: half the examples follow the schema, half are any JSON at all.
Prints one JSON line: how many calls each tool got and every server error.

    python fuzz_mcp_tools.py --url http://127.0.0.1:8069 --key KEY --examples 40
"""

import argparse
import json
import urllib.error
import urllib.request

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def post(url, key, message, session=None):
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
    }
    if session:
        headers["Mcp-Session-Id"] = session
    request = urllib.request.Request(
        f"{url}/mcp", json.dumps(message).encode(), headers
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--examples", type=int, default=40)
    args = parser.parse_args()
    _status, headers, _body = post(
        args.url,
        args.key,
        {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "fuzz", "version": "1"},
            },
        },
    )
    session = headers["Mcp-Session-Id"]
    _status, _headers, listed = post(
        args.url, args.key, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, session
    )
    report = {"calls": {}, "server_errors": []}

    def fuzz(name, schema):
        """Call the tool ``examples`` times with arguments drawn from ``schema``."""
        report["calls"][name] = 0

        @settings(
            max_examples=args.examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(arguments=from_schema(schema) | ANY_JSON)
        def call(arguments):
            message = {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": name, "arguments": arguments},
            }
            status, _headers, body = post(args.url, args.key, message, session)
            report["calls"][name] += 1
            error = (isinstance(body, dict) and body.get("error")) or {}
            if status >= 500 or error.get("code") == -32603:
                report["server_errors"].append(
                    {"tool": name, "arguments": arguments, "status": status}
                )

        call()

    for tool in listed["result"]["tools"]:
        fuzz(tool["name"], tool["inputSchema"])
    print(json.dumps(report, default=repr))


if __name__ == "__main__":
    main()
