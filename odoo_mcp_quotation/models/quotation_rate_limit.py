import math

from odoo import api, fields, models
from odoo.tools import SQL


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
        Counted in the request's own transaction: an insert takes no lock that
        another request could wait for, and controllers answer errors without
        rolling it back, so a refused request counts too.
        """
        user_limit = key_limit if user_id is None else user_limit
        too_many = count > min(key_limit, user_limit)  # more than the whole budget
        if too_many:
            count = key_limit = user_limit = 0
        # insert the hits, and for the key and for the user find the request
        # before the last ``limit`` ones (the new ones included), if still in
        # the window; the inserted rows are not visible to the SELECT, hence
        # the OFFSET of ``limit - count`` among the older ones
        row = self.env.execute_query(
            SQL(
                """
                WITH checked AS (%(check)s), hit AS (
                    INSERT INTO quotation_rate_limit (key, user_id, hit_at)
                    SELECT %(key)s, %(user_id)s, now() AT TIME ZONE 'UTC'
                      FROM generate_series(1, %(count)s)
                     WHERE EXISTS (SELECT FROM checked)
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
                       w.since, EXISTS (SELECT FROM checked), c.*
                  FROM w LEFT JOIN (SELECT * FROM checked LIMIT 1) c ON TRUE
                """,
                check=check or SQL("SELECT 1"),
                key=key,
                user_id=user_id,
                count=count,
                key_offset=key_limit - count,
                user_offset=user_limit - count,
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
    def _cron_vacuum(self):
        self.env.cr.execute(
            "DELETE FROM quotation_rate_limit "
            "WHERE hit_at < (now() AT TIME ZONE 'UTC') - interval '1 hour'"
        )
