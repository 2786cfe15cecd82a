"""Health figures for load balancers: one cheap query, no login.

Works even when the registry cannot be loaded (the database is down), as long
as the addon is a server-wide module (``--load base,web,odoo_mcp_quotation``).
"""

import psycopg2

from odoo import sql_db

from ..lib.query_schema import Health, QueueHealth

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


def queue_figures(cr):
    """Pending, processing, failed in the last hour, the oldest pending's age
    (seconds) and since when the queue is due."""
    cr.execute(QUEUE_QUERY)
    return cr.fetchone()


def database_health(database, version, tasks=None):
    """Queue figures, or ``ok: False`` when PostgreSQL cannot be reached.

    ``tasks`` (``quotation.task``) when the registry is loaded: the figures
    come from it, on the request's cursor; else from a connection of their own.
    """
    health = {"ok": False, "database": database, "version": version}
    try:
        if not database:
            figures = None
        elif tasks is not None:
            figures = tasks._queue_health_figures()
        else:
            with sql_db.db_connect(database).cursor() as cr:
                figures = queue_figures(cr)
    except psycopg2.Error:
        figures = None
    if figures:
        pending, processing, failed, oldest, _due_since = figures
        health.update(
            ok=True,
            queue=QueueHealth(
                pending=pending,
                processing=processing,
                failed_last_hour=failed,
                oldest_pending_age_s=round(oldest, 1) if oldest is not None else None,
            ),
        )
    return Health(**health).model_dump(exclude_unset=True)
