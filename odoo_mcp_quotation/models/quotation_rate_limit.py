import math

from odoo import api, fields, models
from odoo.tools import SQL
from odoo.tools.sql import column_exists, table_exists


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
    def _hit(self, key, key_limit, **budget):
        """Count requests against ``key`` (see ``_hit_if``); return the seconds
        to wait, or 0 when allowed."""
        return self._hit_if(None, key, key_limit, **budget)[1]

    @api.model
    def _hit_if(
        self,
        check,
        key,
        key_limit,
        *,
        user_id=None,
        user_limit=None,
        count=1,
        window_seconds=60,
    ):
        """Count ``count`` requests against ``key`` (and ``user_id``, if given)
        if the query ``check`` (None: no check) finds a row, in the same
        statement: the caller's check (an API key still live) costs no round
        trip of its own.

        Return ``(row, wait)``: the check's first row, or None when it found
        none and nothing was counted; the seconds to wait, or 0 when allowed.
        Counted in the request's own transaction: a connection writes only its
        own row, so no request waits for another, and controllers answer errors
        without rolling it back, so a refused request counts too.
        """
        user_limit = key_limit if user_id is None else user_limit
        too_many = count > min(key_limit, user_limit)  # more than the whole budget
        if too_many:
            count = key_limit = user_limit = 0
        # add the hits to this connection's row of the current second; for the
        # key and for the user find the newest second by which more than
        # ``limit - count`` requests were already counted in the window (the
        # new hits are not visible to the SELECT)
        row = self.env.execute_query(
            SQL(
                """
                WITH checked AS (%(check)s), hit AS (
                    INSERT INTO quotation_rate_limit AS counted
                           (key, user_id, hit_at, backend, hits)
                    SELECT %(key)s, %(user_id)s,
                           date_trunc('second', now() AT TIME ZONE 'UTC'),
                           pg_backend_pid(), %(count)s
                     WHERE %(count)s > 0 AND EXISTS (SELECT FROM checked)
                        ON CONFLICT (key, (COALESCE(user_id, 0)), hit_at, backend)
                        DO UPDATE SET hits = counted.hits + EXCLUDED.hits
                ), w AS (
                    SELECT (now() AT TIME ZONE 'UTC')
                           - make_interval(secs => %(window)s) AS since
                )
                SELECT (%(key_over)s), (%(user_over)s),
                       w.since, EXISTS (SELECT FROM checked), c.*
                  FROM w LEFT JOIN (SELECT * FROM checked LIMIT 1) c ON TRUE
                """,
                check=check or SQL("SELECT 1"),
                key=key,
                user_id=user_id,
                count=count,
                key_over=self._second_over(SQL("key = %s", key), key_limit - count),
                user_over=self._second_over(
                    SQL("user_id = %s", user_id), user_limit - count
                ),
                window=window_seconds,
            )
        )[0]
        key_over, user_over, since, found, *checked = row
        if not found:
            return None, 0
        if too_many:
            return checked, window_seconds
        over = [hit for hit in (key_over, user_over) if hit]
        if not over:
            return checked, 0
        return checked, max(math.ceil((max(over) - since).total_seconds()), 1)

    @api.model
    def _second_over(self, counted, allowed):
        """The newest second of the window by which more than ``allowed``
        requests matching ``counted`` were counted, or NULL (a subquery of
        ``_hit_if``'s statement, which defines ``w.since``). The running sum
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
