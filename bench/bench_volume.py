"""Do lookups stay flat as the tables grow? 1,000 to 100,000 rows, in-process.

    python3 scripts/harness.py bench bench_volume

Tasks, rate-limit rows and audit-outbox entries are added with plain SQL
(the ORM would take minutes), the tables analysed, and at each size the
queries an agent, a salesperson and the crons run are timed, median of many:

- an agent's status lookup (``QuotationService.status``, as the API user);
- the task list as the web client opens it (``web_search_read``, 80 rows,
  counted up to 10,000), unfiltered and filtered on failed tasks;
- an ElevenLabs call finding its tasks by conversation id
  (``elevenlabs.call._matching_tasks``);
- the rate-limit count of one request (``quotation.rate.limit._hit``);
- the outbox claim of the audit cron (``_lock_due``).

Everything happens in one transaction that is rolled back.
"""

import statistics
import time

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tests.common import get_db_name

from odoo.addons.odoo_mcp_quotation.compat import USER_GROUPS
from odoo.addons.odoo_mcp_quotation.services.quotation_service import (
    QuotationService,
)

SIZES = (1_000, 10_000, 100_000)
SAMPLES = 60
# what Odoo's web client asks for a list: a page, counted up to 10,000 rows
LIST_PAGE = {"limit": 80, "count_limit": 10_001}
LIST_FIELDS = {
    "create_date": {},
    "tracking_id": {},
    "customer_name": {},
    "channel": {},
    "state": {},
    "amount_total": {},
    "currency_id": {"fields": {"display_name": {}}},
    "user_id": {"fields": {"display_name": {}}},
    "attempts": {},
}


def grow(cr, table_rows, uid):
    """Add rows until each table holds ``table_rows``: done tasks, old hits, sent
    entries, spread over the last 30 days as a live database would hold them."""
    cr.execute(
        """
        INSERT INTO quotation_task (tracking_id, state, channel, customer_name,
               email, requested_by_id, company_id, attempts, max_attempts,
               create_date, write_date, create_uid, write_uid, done_at,
               idempotency_key, request_payload)
        SELECT md5(random()::text), 'done', 'rest', 'Volume ' || n,
               'volume' || n || '@example.com', %(uid)s, 1, 1, 5,
               now() - n * interval '25 seconds', now(), %(uid)s, %(uid)s, now(),
               md5(n::text),
               jsonb_build_object('conversation_id', 'conv_' || n)
          FROM generate_series((SELECT count(*) FROM quotation_task) + 1,
                               %(rows)s) n
        """,
        {"uid": uid, "rows": table_rows},
    )
    cr.execute(
        """
        INSERT INTO quotation_rate_limit (key, hit_at, backend, hits)
        SELECT md5((n %% 500)::text),
               date_trunc('second', now() - n * interval '25 seconds'), n, 1
          FROM generate_series((SELECT count(*) FROM quotation_rate_limit) + 1,
                               %(rows)s) n
        """,
        {"rows": table_rows},
    )
    cr.execute(
        """
        INSERT INTO quotation_audit_entry (tracking_id, event, key, state,
               sent_at, create_date, write_date)
        SELECT md5(n::text), 'done', 'volume/' || n, 'sent',
               now() - n * interval '25 seconds', now(), now()
          FROM generate_series((SELECT count(*) FROM quotation_audit_entry) + 1,
                               %(rows)s) n
        """,
        {"rows": table_rows},
    )
    cr.execute("ANALYZE quotation_task, quotation_rate_limit, quotation_audit_entry")


def median_ms(env, call):
    samples = []
    for _ in range(SAMPLES):
        env.invalidate_all()
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def measure(env, agent_env, tracking_id):
    Task = env["quotation.task"]
    service = QuotationService(agent_env)

    def claim_outbox():
        with env.cr.savepoint(flush=False) as savepoint:
            env["quotation.audit.entry"]._lock_due(20)
            savepoint.rollback()

    def count_hit():
        with env.cr.savepoint(flush=False) as savepoint:
            env["quotation.rate.limit"]._hit("volume-bench", 1_000_000)
            savepoint.rollback()

    return {
        "status lookup (agent)": median_ms(env, lambda: service.status(tracking_id)),
        "task list, 80 rows": median_ms(
            env, lambda: Task.web_search_read([], LIST_FIELDS, **LIST_PAGE)
        ),
        "task list, filter Failed": median_ms(
            env,
            lambda: Task.web_search_read(
                [("state", "=", "failed")], LIST_FIELDS, **LIST_PAGE
            ),
        ),
        "a call's tasks (ElevenLabs)": median_ms(
            env,
            lambda: (
                env["elevenlabs.call"]
                .new({"conversation_id": "conv_7"})
                ._matching_tasks()
            ),
        ),
        "rate-limit count": median_ms(env, count_hit),
        "audit outbox claim": median_ms(env, claim_outbox),
    }


def test_volume_figures(capsys):
    with Registry(get_db_name()).cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        agent = env["res.users"].create(
            {
                "name": "Volume Agent",
                "login": "volume_agent",
                USER_GROUPS: [(6, 0, [env.ref("sales_team.group_sale_salesman").id])],
            }
        )
        figures = {}
        for size in SIZES:
            grow(cr, size, agent.id)
            cr.execute(
                "SELECT tracking_id FROM quotation_task WHERE requested_by_id = %s "
                "ORDER BY id LIMIT 1 OFFSET %s",
                [agent.id, size // 2],
            )
            figures[size] = measure(env, env(user=agent.id), cr.fetchone()[0])
        cr.rollback()
    with capsys.disabled():
        header = " | ".join(f"{size:,} rows" for size in SIZES)
        print(f"\n| median ms | {header} | {SIZES[-1]:,} / {SIZES[0]:,} |")
        print("| --- |" + " ---: |" * (len(SIZES) + 1))
        for what in figures[SIZES[0]]:
            values = [figures[size][what] for size in SIZES]
            shown = " | ".join(f"{value:.2f}" for value in values)
            print(f"| {what} | {shown} | {values[-1] / values[0]:.2f}x |")
