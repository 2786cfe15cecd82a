#!/usr/bin/env python3
"""MCP latency against a real Odoo server: handshake, tools/list, a status call.

Prints p50/p99 per operation and its ratio to Odoo's own /web/health measured
side by side in the same run (the ceiling of any Odoo route on this machine).
Bounded: ``--requests`` sequential requests per operation, then it stops.

    make bench        # starts its own odoo-bin --workers 2 (harness environment)
    python3 bench/bench_mcp.py --url http://127.0.0.1:8069 --key "$OMQ_KEY"

Against a server of your own, raise its rate limit first (Settings > Sales >
AI Quotations): the benchmark sends more than 60 requests a minute.
"""

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

PROTOCOL = "2025-11-25"


class Client:
    def __init__(self, url, key):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.key = key

    def request(self, method, path, body=None, headers=None):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, response.headers, data

    def rpc(self, method, params=None, session=None):
        headers = {
            "Authorization": f"Bearer {self.key}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        }
        if method != "initialize":
            headers["MCP-Protocol-Version"] = PROTOCOL
        if session:
            headers["Mcp-Session-Id"] = session
        body = {"jsonrpc": "2.0", "id": 1, "method": method}
        if params is not None:
            body["params"] = params
        status, response_headers, data = self.request(
            "POST", "/mcp", json.dumps(body), headers
        )
        if status != 200:
            raise SystemExit(f"{method}: HTTP {status} {data[:300]!r}")
        return response_headers, json.loads(data)


def initialize(client):
    headers, _body = client.rpc(
        "initialize",
        {
            "protocolVersion": PROTOCOL,
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"},
        },
    )
    return headers["Mcp-Session-Id"]


def measure(operation, count):
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        operation()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.99) - 1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server (default: start one)")
    parser.add_argument("--key", help="an Odoo API key of that server")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    if args.url:
        run(Client(args.url, args.key), args.url, args.requests)
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from conftest import start_odoo_server, stop_odoo_server  # noqa: PLC0415

    print("starting odoo-bin --workers 2...", flush=True)
    server = start_odoo_server(
        Path(tempfile.mkdtemp(prefix="omq-bench-")),
        params={"odoo_mcp_quotation.rate_limit_per_minute": "1000000"},
    )
    try:
        run(Client(server.url, server.api_key), server.url, args.requests)
    finally:
        stop_odoo_server(server)


def run(client, url, requests):
    session = initialize(client)
    _headers, created = client.rpc(
        "tools/call",
        {
            "name": "create_quotation",
            "arguments": {
                "customer_name": "Bench Customer",
                "email": "bench@example.com",
                "lines": [{"product": "DESK-STD", "quantity": 1}],
                "conversation_id": "bench-mcp",
            },
        },
        session,
    )
    tracking_id = created["result"]["structuredContent"]["tracking_id"]

    def handshake():
        new_session = initialize(client)
        client.rpc("tools/list", session=new_session)

    operations = {
        "GET /web/health (Odoo's floor)": lambda: client.request("GET", "/web/health"),
        "initialize + tools/list": handshake,
        "tools/list": lambda: client.rpc("tools/list", session=session),
        "tools/call get_quotation_status": lambda: client.rpc(
            "tools/call",
            {"name": "get_quotation_status", "arguments": {"tracking_id": tracking_id}},
            session,
        ),
    }
    for operation in operations.values():  # warm every worker's caches
        for _ in range(10):
            operation()
    results = {name: measure(op, requests) for name, op in operations.items()}
    floor = results["GET /web/health (Odoo's floor)"][0]
    print(f"{requests} sequential requests each against {url}")
    print(f"{'operation':36} {'p50 ms':>8} {'p99 ms':>8} {'p50/health':>11}")
    for name, (p50, p99) in results.items():
        print(f"{name:36} {p50:8.1f} {p99:8.1f} {p50 / floor:10.1f}x")


if __name__ == "__main__":
    main()
