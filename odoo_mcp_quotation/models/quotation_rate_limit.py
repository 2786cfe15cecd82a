from odoo import api, fields, models


class QuotationRateLimit(models.Model):
    """Requests counted per API key and minute, shared by every worker process.

    Counting happens on its own short transaction so that concurrent requests
    with the same key never wait on each other's row lock, and so that a
    request that fails still counts.
    """

    _name = "quotation.rate.limit"
    _description = "API Rate Limit Counter"
    _log_access = False

    key = fields.Char(required=True, help="SHA-256 of the API key, never the key.")
    window_start = fields.Datetime(required=True)
    count = fields.Integer(required=True, default=0)

    _sql_constraints = [
        (
            "key_window_uniq",
            "unique(key, window_start)",
            "One counter per key and window.",
        ),
    ]

    @api.model
    def _hit(self, key, limit, window_seconds=60):
        """Count one request; return the seconds to wait, or 0 when allowed."""
        with self.env.registry.cursor() as cr:
            # a lost count after a crash is harmless: do not wait for the WAL flush
            cr.execute("SET LOCAL synchronous_commit TO OFF")
            cr.execute(
                """
                INSERT INTO quotation_rate_limit (key, window_start, count)
                VALUES (%(key)s, to_timestamp(
                    floor(extract(epoch FROM now()) / %(window)s) * %(window)s
                ) AT TIME ZONE 'UTC', 1)
                ON CONFLICT (key, window_start)
                DO UPDATE SET count = quotation_rate_limit.count + 1
                RETURNING count,
                          %(window)s - extract(epoch FROM now())::int %% %(window)s
                """,
                {"key": key, "window": window_seconds},
            )
            count, seconds_left = cr.fetchone()
        return 0 if count <= limit else max(int(seconds_left), 1)

    @api.model
    def _cron_vacuum(self):
        self.env.cr.execute(
            "DELETE FROM quotation_rate_limit WHERE window_start < "
            "(now() AT TIME ZONE 'UTC') - interval '1 hour'"
        )
