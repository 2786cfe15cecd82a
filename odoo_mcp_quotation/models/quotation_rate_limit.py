import math

from odoo import api, fields, models


class QuotationRateLimit(models.Model):
    """One row per API request, counted over a sliding minute per key.

    Rows are only ever inserted, never updated, so requests of the same key on
    several worker processes never wait on, nor conflict with, each other; and
    the count is the same whichever worker or server answers.
    """

    _name = "quotation.rate.limit"
    _description = "API Request Log for Rate Limits"
    _log_access = False
    _order = "hit_at desc"

    key = fields.Char(required=True, help="SHA-256 of the API key, never the key.")
    hit_at = fields.Datetime(required=True)

    def init(self):
        self.env.cr.execute(
            "CREATE INDEX IF NOT EXISTS quotation_rate_limit_key_hit_at_idx "
            "ON quotation_rate_limit (key, hit_at DESC)"
        )

    @api.model
    def _hit(self, key, limit, window_seconds=60):
        """Count one request; return the seconds to wait, or 0 when allowed.

        Counted in the request's own transaction: an insert takes no lock that
        another request could wait for, and controllers answer errors without
        rolling it back, so a refused request counts too.
        """
        cr = self.env.cr
        cr.execute(
            """
            INSERT INTO quotation_rate_limit (key, hit_at)
            VALUES (%s, now() AT TIME ZONE 'UTC')
            """,
            [key],
        )
        # the request before the last ``limit`` ones, if still in the window
        cr.execute(
            """
            SELECT %(window)s
                   - extract(epoch FROM (now() AT TIME ZONE 'UTC') - hit_at)
              FROM quotation_rate_limit
             WHERE key = %(key)s
               AND hit_at > (now() AT TIME ZONE 'UTC')
                            - make_interval(secs => %(window)s)
             ORDER BY hit_at DESC
            OFFSET %(limit)s LIMIT 1
            """,
            {"key": key, "window": window_seconds, "limit": limit},
        )
        row = cr.fetchone()
        return max(math.ceil(row[0]), 1) if row else 0

    @api.model
    def _cron_vacuum(self):
        self.env.cr.execute(
            "DELETE FROM quotation_rate_limit "
            "WHERE hit_at < (now() AT TIME ZONE 'UTC') - interval '1 hour'"
        )
