from odoo import api, fields, models
from odoo.tools import SQL


class QuotationQueueMixin(models.AbstractModel):
    """Rows a cron works through: due once pending and their next attempt has come.

    Quotation tasks and audit entries both queue this way; both claim their
    rows with ``SKIP LOCKED``, so any number of cron workers and Odoo servers on
    the database work side by side without ever taking the same row.
    """

    _name = "quotation.queue.mixin"
    _description = "Queue of Due Records"

    @api.model
    def _due_domain(self):
        return [
            ("state", "=", "pending"),
            "|",
            ("next_attempt_at", "=", False),
            ("next_attempt_at", "<=", fields.Datetime.now()),
        ]

    @api.model
    def _lock_due(self, limit):
        """Lock and return up to ``limit`` due rows that no other worker holds."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT id FROM %s
                 WHERE state = 'pending'
                   AND (next_attempt_at IS NULL OR next_attempt_at <= %s)
                 ORDER BY next_attempt_at NULLS FIRST, id
                 LIMIT %s
                   FOR UPDATE SKIP LOCKED
                """,
                SQL.identifier(self._table),
                fields.Datetime.now(),
                limit,
            )
        )
        return self.browse(row[0] for row in self.env.cr.fetchall())
