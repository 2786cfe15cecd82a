"""POST /api/elevenlabs/conversation-init against Odoo's own /web/health.

Run with ``python3 scripts/harness.py bench bench_conversation_init``. The
call waits for this answer before the agent speaks: issue 22's target is p99
under 3x /web/health on the same server. One real ``odoo-bin --workers 2``,
crons off; half the callers are a known customer with quotations, half
unknown numbers. Then, to say why a target is missed, the CPU time (Odoo's
processes and PostgreSQL's, from /proc) of one call of each kind, one at a
time: the door's own work, against /web/health's.
"""

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "scripts"))

from helpers.servers import start_odoo_server, stop_odoo_server  # noqa: E402
from loadgen import against_health, run  # noqa: E402
from proc_cpu import Meter  # noqa: E402

PLAN = [(1, 300), (10, 1000)]  # (concurrent clients, requests)
CPU_CALLS = 200  # of each kind, one at a time
SECRET = "bench-initiation-secret"
TARGET = 3.0
SHARED = (
    "customer_name",
    "customer_company",
    "customer_email",
    "customer_language",
    "salesperson",
    "last_quotations",
    "open_quotations",
)
# a customer with a company, a salesperson and six quotations
CUSTOMER = """
company = env["res.partner"].create({"name": "Bench Interiores", "is_company": True})
ana = env["res.partner"].create({
    "name": "Ana Bench", "parent_id": company.id, "phone": "+34 611 222 333",
    "email": "ana@bench.example", "lang": "en_US", "user_id": user.id,
})
product = env["product.product"].search([], limit=1)
for quantity in range(1, 7):
    env["sale.order"].create({
        "partner_id": ana.id,
        "order_line": [(0, 0, {"product_id": product.id, "product_uom_qty": quantity})],
    })
"""


def caller(index):
    number = "+34611222333" if index % 2 else f"+34 699 {index % 1000000:06d}"
    return {
        "caller_id": number,
        "agent_id": "agent_bench",
        "called_number": "+34910000000",
        "call_sid": f"CA{index:032x}",
    }


def cpu_per_call(server, url, body=None, headers=None):
    """CPU ms (Odoo's process tree + the database's backends) of one call."""
    meter = Meter(server.process.pid, server.database).start()
    method = "POST" if body else "GET"
    result = run(
        url,
        url,
        requests=CPU_CALLS,
        concurrency=1,
        method=method,
        body=body,
        headers=headers,
    )
    meter.stop()
    assert set(result.statuses) == {200}, result.statuses
    return meter.tree / CPU_CALLS * 1000, meter.postgres / CPU_CALLS * 1000


def caller_unknown(index):
    return caller(2 * index)


def main():
    params = {"odoo_mcp_quotation.elevenlabs_init_secret": SECRET}
    params.update(
        {
            f"odoo_mcp_quotation.conversation_init_share_{name}": "True"
            for name in SHARED
        }
    )
    tmp = Path(tempfile.mkdtemp(prefix="omq-bench-"))
    print("starting odoo-bin --workers 2 (crons off)...", flush=True)
    server = start_odoo_server(tmp, cron_threads=0, params=params, setup=CUSTOMER)
    headers = {"Content-Type": "application/json", "X-Odoo-Secret": SECRET}
    url = f"{server.url}/api/elevenlabs/conversation-init"
    try:
        rows = against_health(
            server.url,
            "POST conversation-init",
            url,
            PLAN,
            bodies=lambda _round: caller,
            headers=headers,
        )
        cpu = {
            "/web/health": cpu_per_call(server, f"{server.url}/web/health"),
            "known caller": cpu_per_call(server, url, lambda i: caller(1), headers),
            "unknown caller": cpu_per_call(server, url, caller_unknown, headers),
        }
    finally:
        stop_odoo_server(server)
    print("\nCPU a call, one at a time (Odoo's processes + PostgreSQL):")
    for name, (odoo, postgres) in cpu.items():
        print(f"  {name:16} {odoo + postgres:6.2f} ms = {odoo:.2f} + {postgres:.2f}")
    health_cpu = sum(cpu["/web/health"])
    door_cpu = max(sum(cpu["known caller"]), sum(cpu["unknown caller"]))
    print(f"\ntarget: p99 at most {TARGET:.1f}x /web/health's, same run")
    for concurrency, health, answer in rows:
        ratio = answer.percentile(99) / health.percentile(99)
        verdict = "met"
        if ratio > TARGET:
            allowed = TARGET * health.percentile(99)
            verdict = (
                f"MISSED by {ratio / TARGET - 1:.0%}: "
                f"{answer.percentile(99) - allowed:.1f} ms over the "
                f"{allowed:.1f} ms allowed; a call costs {door_cpu:.1f} ms of CPU "
                f"against {health_cpu:.1f} ms for /web/health"
                + (
                    f", and {concurrency} callers share 2 HTTP workers: each "
                    "waits for the calls ahead of it"
                    if concurrency > 2
                    else ""
                )
            )
        print(
            f"  c={concurrency:<3} p99 {answer.percentile(99):.1f} ms vs "
            f"{health.percentile(99):.1f} ms = {ratio:.2f}x  {verdict}"
        )


if __name__ == "__main__":
    main()
