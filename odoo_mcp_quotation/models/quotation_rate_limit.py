import math

from odoo import api, fields, models
from odoo.tools import SQL
from odoo.tools.sql import column_exists, table_exists

from ..lib.settings import read_setting


class QuotationRateLimit(models.Model):
    """API requests counted per second, per key and per user, over a sliding
    minute.

    Each PostgreSQL connection adds its hits to a row of its own for the
    current second (``backend``: its server process id), so requests of the
    same key on several worker processes never wait on, nor conflict with,
    each other, and the count is the same whichever worker or server
    answers. Counting reads at most one row per second and connection that
    served the key, however many requests the minute held: a busy minute
    makes a request no dearer to count. The whole minute's budget may be
    spent at once (a burst), and it refills second by second as the minute
    slides.

    The table is UNLOGGED: counting a request writes no WAL, so a read that
    changes nothing else commits without waiting for the disk. A crash of
    PostgreSQL empties it, which only forgets the last minute's counts.
    """

    _name = "quotation.rate.limit"
    _description = "API Request Log for Rate Limits"
    _log_access = False
    _order = "hit_at desc"

    key = fields.Char(required=True, help="SHA-256 of the API key, never the key.")
    user_id = fields.Many2one(
        "res.users", ondelete="cascade", help="Empty for requests before login."
    )
    hit_at = fields.Datetime(required=True, help="The second the hits fall in.")
    backend = fields.Integer(
        required=True, help="The PostgreSQL server process that counted them."
    )
    hits = fields.Integer(required=True, default=1)

    def _auto_init(self):
        """Empty the one-row-per-request log of earlier versions before its
        rows get the new required columns: at most a minute of counts."""
        cr = self.env.cr
        if table_exists(cr, self._table) and not column_exists(cr, self._table, "hits"):
            cr.execute(SQL("TRUNCATE %s", SQL.identifier(self._table)))
        return super()._auto_init()

    def init(self):
        cr = self.env.cr
        cr.execute(
            "CREATE INDEX IF NOT EXISTS quotation_rate_limit_key_hit_at_idx "
            "ON quotation_rate_limit (key, hit_at DESC)"
        )
        cr.execute(
            "CREATE INDEX IF NOT EXISTS quotation_rate_limit_user_id_hit_at_idx "
            "ON quotation_rate_limit (user_id, hit_at DESC)"
        )
        cr.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS quotation_rate_limit_bucket_uniq "
            "ON quotation_rate_limit (key, (COALESCE(user_id, 0)), hit_at, backend)"
        )
        cr.execute(
            "SELECT relpersistence FROM pg_class WHERE relname = 'quotation_rate_limit'"
        )
        if cr.fetchone()[0] != "u":
            cr.execute("ALTER TABLE quotation_rate_limit SET UNLOGGED")

    @api.model
    def _spend(self, caller, count=1):
        """Count ``count`` requests of a ``services/caller.py`` Caller against
        its credential's budget and its user's; return the seconds to wait,
        or 0 when allowed."""
        return self._hit(
            caller.budget,
            read_setting(self.env, "rate_limit_per_minute"),
            user_id=caller.uid,
            user_limit=read_setting(self.env, "rate_limit_per_user_per_minute"),
            count=count,
        )

    @api.model
    def _hit(
        self, key, key_limit, *, user_id=None, user_limit=None, count=1, window=60
    ):
        """Count ``count`` requests against ``key`` (and ``user_id``, if
        given); return the seconds to wait, or 0 when allowed.

        Counted in the request's own transaction: a connection writes only its
        own row, so no request waits for another, and controllers answer errors
        without rolling it back, so a refused request counts too. More requests
        at once than a whole budget are refused and not counted.
        """
        budgets = [(SQL("key = %s", key), key_limit)]
        if user_id is not None:
            budgets.append((SQL("user_id = %s", user_id), user_limit))
        if count > min(limit for _counted, limit in budgets):
            return window
        # add the hits to this connection's row of the current second; for
        # each budget find the newest second by which more than ``limit -
        # count`` requests were already counted in the window (the new hits
        # are not visible to the SELECT)
        since, *over = self.env.execute_query(
            SQL(
                """
                WITH hit AS (
                    INSERT INTO quotation_rate_limit AS counted
                           (key, user_id, hit_at, backend, hits)
                    VALUES (%(key)s, %(user_id)s,
                            date_trunc('second', now() AT TIME ZONE 'UTC'),
                            pg_backend_pid(), %(count)s)
                        ON CONFLICT (key, (COALESCE(user_id, 0)), hit_at, backend)
                        DO UPDATE SET hits = counted.hits + EXCLUDED.hits
                ), w AS (
                    SELECT (now() AT TIME ZONE 'UTC')
                           - make_interval(secs => %(window)s) AS since
                )
                SELECT w.since, %(over)s FROM w
                """,
                key=key,
                user_id=user_id,
                count=count,
                window=window,
                over=SQL(", ").join(
                    SQL("(%s)", self._second_over(counted, limit - count))
                    for counted, limit in budgets
                ),
            )
        )[0]
        over = [second for second in over if second]
        if not over:
            return 0
        return max(math.ceil((max(over) - since).total_seconds()), 1)

    @api.model
    def _second_over(self, counted, allowed):
        """The newest second of the window by which more than ``allowed``
        requests matching ``counted`` were counted, or NULL (a subquery of
        ``_hit``'s statement, which defines ``w.since``). The running sum
        takes a second's rows of every connection at once (they are peers in
        the window's order), without a GROUP BY to plan."""
        return SQL(
            """
            SELECT hit_at FROM (
                SELECT hit_at, sum(hits) OVER (ORDER BY hit_at DESC) AS newer
                  FROM quotation_rate_limit
                 WHERE %s AND hit_at > w.since
            ) seconds
             WHERE newer > %s ORDER BY hit_at DESC LIMIT 1
            """,
            counted,
            allowed,
        )

    @api.model
    def _cron_vacuum(self):
        self.env.cr.execute(
            "DELETE FROM quotation_rate_limit "
            "WHERE hit_at < (now() AT TIME ZONE 'UTC') - interval '1 hour'"
        )
