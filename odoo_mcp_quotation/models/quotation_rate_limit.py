import math

from odoo import api, fields, models


class QuotationRateLimit(models.Model):
    """One row per API request, counted over a sliding minute per key and per user.

    Rows are only ever inserted, never updated, so requests of the same key on
    several worker processes never wait on, nor conflict with, each other; and
    the count is the same whichever worker or server answers. The whole
    minute's budget may be spent at once (a burst), and it refills as the
    minute slides.

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
    hit_at = fields.Datetime(required=True)

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
            "SELECT relpersistence FROM pg_class WHERE relname = 'quotation_rate_limit'"
        )
        if cr.fetchone()[0] != "u":
            cr.execute("ALTER TABLE quotation_rate_limit SET UNLOGGED")

    @api.model
    def _hit(
        self,
        key,
        key_limit,
        *,
        user_id=None,
        user_limit=None,
        count=1,
        window_seconds=60,
    ):
        """Count ``count`` requests against ``key`` (and ``user_id``, if given);
        return the seconds to wait, or 0 when allowed.

        Counted in the request's own transaction: an insert takes no lock that
        another request could wait for, and controllers answer errors without
        rolling it back, so a refused request counts too.
        """
        user_limit = key_limit if user_id is None else user_limit
        if count > min(key_limit, user_limit):
            return window_seconds  # a batch larger than the whole budget
        # one statement: insert the hits, and for the key and for the user find
        # the request before the last ``limit`` ones (the new ones included),
        # if still in the window; the inserted rows are not visible to the
        # SELECT, hence the OFFSET of ``limit - count`` among the older ones
        self.env.cr.execute(
            """
            WITH hit AS (
                INSERT INTO quotation_rate_limit (key, user_id, hit_at)
                SELECT %(key)s, %(user_id)s, now() AT TIME ZONE 'UTC'
                  FROM generate_series(1, %(count)s)
            ), w AS (
                SELECT (now() AT TIME ZONE 'UTC')
                       - make_interval(secs => %(window)s) AS since
            )
            SELECT (SELECT hit_at FROM quotation_rate_limit
                     WHERE key = %(key)s AND hit_at > w.since
                     ORDER BY hit_at DESC OFFSET %(key_offset)s LIMIT 1),
                   (SELECT hit_at FROM quotation_rate_limit
                     WHERE user_id = %(user_id)s AND hit_at > w.since
                     ORDER BY hit_at DESC OFFSET %(user_offset)s LIMIT 1),
                   w.since
              FROM w
            """,
            {
                "key": key,
                "user_id": user_id,
                "count": count,
                "key_offset": key_limit - count,
                "user_offset": user_limit - count,
                "window": window_seconds,
            },
        )
        key_over, user_over, since = self.env.cr.fetchone()
        over = [hit for hit in (key_over, user_over) if hit]
        if not over:
            return 0
        return max(math.ceil((max(over) - since).total_seconds()), 1)

    @api.model
    def _cron_vacuum(self):
        self.env.cr.execute(
            "DELETE FROM quotation_rate_limit "
            "WHERE hit_at < (now() AT TIME ZONE 'UTC') - interval '1 hour'"
        )
