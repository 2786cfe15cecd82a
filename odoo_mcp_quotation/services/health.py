"""Health figures for load balancers: one cheap query, no login.

Works even when the registry cannot be loaded (the database is down), as long
as the addon is a server-wide module (``--load base,web,odoo_mcp_quotation``).
"""

import psycopg2

from odoo import SUPERUSER_ID, sql_db
from odoo.http import request
from odoo.tools import config

QUEUE_QUERY = """
SELECT count(*) FILTER (WHERE state = 'pending'),
       count(*) FILTER (WHERE state = 'processing'),
       count(*) FILTER (WHERE state = 'failed'
                          AND done_at > (now() AT TIME ZONE 'UTC') - interval '1 hour'),
       extract(epoch FROM (now() AT TIME ZONE 'UTC')
                          - min(create_date) FILTER (WHERE state = 'pending')),
       -- due since: as QuotationTask._due_since, the earliest of the queue
       least(min(coalesce(next_attempt_at, create_date))
                 FILTER (WHERE state = 'pending'),
             min(lease_until) FILTER (WHERE state = 'processing'))
  FROM quotation_task
 WHERE state IN ('pending', 'processing', 'failed')
"""


def _queue_figures(database):
    if request and request.db:  # the registry is up: use the request's cursor
        request.env.cr.execute(QUEUE_QUERY)
        figures = request.env.cr.fetchone()
        # a health check is also the first sign of life after a restart
        tasks = request.env(user=SUPERUSER_ID)["quotation.task"]
        tasks._wake_if_stalled(figures[-1])
        return figures
    with sql_db.db_connect(database).cursor() as cr:
        cr.execute(QUEUE_QUERY)
        return cr.fetchone()


def database_health(version):
    """Queue figures, or ``ok: False`` when PostgreSQL cannot be reached."""
    database = (request and request.db) or config["db_name"] or None
    health = {"ok": False, "database": database, "version": version}
    if not database:
        return health
    try:
        pending, processing, failed, oldest, _due_since = _queue_figures(database)
    except psycopg2.Error:
        return health
    health.update(
        ok=True,
        queue={
            "pending": pending,
            "processing": processing,
            "failed_last_hour": failed,
            "oldest_pending_age_s": round(oldest, 1) if oldest is not None else None,
        },
    )
    return health
