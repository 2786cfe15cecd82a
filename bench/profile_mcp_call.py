#!/usr/bin/env python3
"""Where an MCP read call's time goes, next to Odoo's own /web/health.

    python3 scripts/harness.py bench profile_mcp_call

Runs Odoo's WSGI application in one process (``odoo-bin shell`` on a copy of
the template), without sockets: the same ``get_quotation_status`` call
(2026-07-28, stateless) and ``GET /web/health`` are sent in turns, timed,
their SQL statements counted, then profiled. Prints the in-process p50 of
each, their ratio, and the functions the call spends its time in beyond
what the health check also spends.
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import harness
from helpers.servers import free_port, odoo_shell, prepare_database

CALLS = 400
PROFILE_SCRIPT = """
import cProfile, io, json, pstats, statistics, time
from werkzeug.test import EnvironBuilder
import odoo
from odoo.sql_db import Cursor
from odoo.addons.odoo_mcp_quotation.services.quotation_service import QuotationService

user = env["res.users"].search([("login", "=", "integration")])
task = QuotationService(env(user=user.id)).submit({{
    "customer_name": "Profiled", "email": "profiled@example.com",
    "lines": [{{"product": "DESK-STD", "quantity": 1}}]}}, "mcp")
env.cr.commit()
env["quotation.task"]._process_due(commit=True)
assert task.state == "done", task.error
odoo.tools.config["db_name"] = env.cr.dbname
call = json.dumps({{
    "jsonrpc": "2.0", "id": 1, "method": "tools/call",
    "params": {{"name": "get_quotation_status",
               "arguments": {{"tracking_id": task.tracking_id}},
               "_meta": {{"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                         "io.modelcontextprotocol/clientInfo":
                             {{"name": "profile", "version": "1"}},
                         "io.modelcontextprotocol/clientCapabilities": {{}}}}}}}})
headers = {{"Authorization": "Bearer {api_key}", "Content-Type": "application/json",
           "Accept": "application/json, text/event-stream",
           "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call",
           "Mcp-Name": "get_quotation_status"}}

def request(path, **kwargs):
    builder = EnvironBuilder(path=path, base_url="http://127.0.0.1:8069", **kwargs)
    environ = builder.get_environ()
    status = []
    body = b"".join(odoo.http.root(environ, lambda s, h, e=None: status.append(s)))
    return status[0], body

operations = {{
    "mcp": lambda: request("/mcp", method="POST", data=call, headers=headers),
    "health": lambda: request("/web/health"),
}}
status, body = operations["mcp"]()
assert status.startswith("200"), (status, body)
assert task.tracking_id.encode() in body, body
statements = {{}}
execute = Cursor.execute
for name, operation in operations.items():
    count = [0]
    def counting(self, *args, __count=count, **kwargs):
        __count[0] += 1
        return execute(self, *args, **kwargs)
    Cursor.execute = counting
    operation()
    Cursor.execute = execute
    statements[name] = count[0]
timings = {{name: [] for name in operations}}
for _round in range({calls}):
    for name, operation in operations.items():
        started = time.perf_counter()
        operation()
        timings[name].append((time.perf_counter() - started) * 1000)
profiles = {{}}
for name, operation in operations.items():
    profile = cProfile.Profile()
    profile.enable()
    for _round in range({calls}):
        operation()
    profile.disable()
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(30)
    profiles[name] = out.getvalue()
print("OMQ_REPORT=" + json.dumps({{
    "p50": {{name: statistics.median(values) for name, values in timings.items()}},
    "statements": statements, "profiles": profiles}}))
"""


def main():
    database = f"omq_profile_{free_port()}"
    harness.copy_database(os.environ["ODOO_MCP_TEMPLATE_DB"], database)
    try:
        params = {
            "odoo_mcp_quotation.rate_limit_per_minute": "100000000",
            "odoo_mcp_quotation.rate_limit_per_user_per_minute": "100000000",
        }
        api_key = prepare_database(database, params)["API_KEY"]
        script = PROFILE_SCRIPT.format(api_key=api_key, calls=CALLS)
        report = json.loads(odoo_shell(database, script)["REPORT"])
    finally:
        harness.drop_database(database)
    for name in ("mcp", "health"):
        print(f"--- {name}: cumulative profile of {CALLS} requests")
        print(report["profiles"][name])
    p50 = report["p50"]
    print(f"in-process, {CALLS} requests each, in turns (p50 ms, SQL statements):")
    for name, label in (("mcp", "MCP get_quotation_status"), ("health", "/web/health")):
        print(f"  {label:26} {p50[name]:6.2f} ms  {report['statements'][name]} SQL")
    print(f"  ratio: {p50['mcp'] / p50['health']:.2f}x /web/health")


if __name__ == "__main__":
    main()
