"""POST /api/quotation/async against Odoo's own /web/health, side by side.

Run with ``make bench`` (or ``python3 scripts/harness.py bench bench_rest``).
One real ``odoo-bin --workers 2`` on a copy of the template database; crons
are off while the HTTP figures are taken, so that the background work the
POSTs create does not steal the CPU from the requests being measured. Then the
crons are turned on and the backlog those POSTs created is timed as it drains.
"""

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conftest import harness, start_odoo_server, stop_odoo_server
from loadgen import against_health, drain

PLAN = [(1, 300), (20, 1000)]  # (concurrent clients, requests) per endpoint


def quotation_body(index):
    return {
        "customer_name": f"Bench Customer {index}",
        "email": f"bench{index}@example.com",
        "lines": [{"product": "DESK-STD", "quantity": 1 + index % 3}],
    }


def waiting(database):
    """Tasks queued or being built (/health tells only an administrator's key)."""
    with harness.pg_connect(database) as connection, connection.cursor() as cr:
        cr.execute(
            "SELECT count(*) FROM quotation_task "
            "WHERE state IN ('pending', 'processing')"
        )
        return cr.fetchone()[0]


def main():
    tmp = Path(tempfile.mkdtemp(prefix="omq-bench-"))
    params = {
        "odoo_mcp_quotation.rate_limit_per_minute": "1000000",
        "odoo_mcp_quotation.rate_limit_per_user_per_minute": "1000000",
        "odoo_mcp_quotation.build_when_idle": "False",  # no build at all
    }
    print(
        "starting odoo-bin --workers 2 (crons off for the HTTP figures)...", flush=True
    )
    server = start_odoo_server(tmp, cron_threads=0, params=params)
    auth = {
        "Authorization": f"Bearer {server.api_key}",
        "Content-Type": "application/json",
    }
    try:
        against_health(
            server.url,
            "POST /api/quotation/async",
            f"{server.url}/api/quotation/async",
            PLAN,
            bodies=lambda _round: quotation_body,
            headers=auth,
        )
        backlog = waiting(server.database)
    finally:
        stop_odoo_server(server, drop=False)

    print(
        f"\n{backlog} tasks queued; starting the crons (2 lanes) to drain them...",
        flush=True,
    )
    server = start_odoo_server(tmp, database=server.database)

    try:
        done, seconds = drain(
            backlog, lambda: waiting(server.database), verb="done", timeout=300
        )
        print(
            f"\n  drained {done} quotations in {seconds:.0f} s: "
            f"{done / seconds:.1f} quotations/s "
            "(customer + opportunity + order, in-process)"
        )
    finally:
        stop_odoo_server(server)


if __name__ == "__main__":
    main()
