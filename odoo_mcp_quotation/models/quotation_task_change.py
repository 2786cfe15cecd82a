from odoo import api, fields, models

from .. import compat


@compat.unique_constraints(
    (
        "idempotency_key_uniq",
        "unique(requested_by_id, idempotency_key)",
        "This idempotency key was already used by this user.",
    ),
)
class QuotationTaskChange(models.Model):
    """One change an agent made to the quotation of its task.

    Kept so that a retried call (the same idempotency key) gets the first
    answer back and changes nothing again, and so that managers see who
    changed what through which channel.
    """

    _name = "quotation.task.change"
    _description = "Quotation Change by an Agent"
    _order = "id desc"

    task_id = fields.Many2one(
        "quotation.task", required=True, readonly=True, index=True, ondelete="cascade"
    )
    sale_order_id = fields.Many2one(
        "sale.order", string="Quotation", readonly=True, ondelete="set null"
    )
    requested_by_id = fields.Many2one(
        "res.users",
        required=True,
        readonly=True,
        default=lambda self: self.env.user,
        ondelete="restrict",
    )
    channel = fields.Selection(
        [("rest", "REST API"), ("mcp", "MCP")], required=True, readonly=True
    )
    client_name = fields.Char(
        string="Agent",
        readonly=True,
        help="Which agent made the change: the name its MCP client gives "
        "itself, else its OAuth application's or its API key's name.",
    )
    idempotency_key = fields.Char(readonly=True, copy=False)
    changes = fields.Json(readonly=True, help="[{product, before, after}]")
    answer = fields.Json(readonly=True, help="What the agent was answered.")

    @api.model
    def _find_by_idempotency_key(self, key):
        return self.sudo().search(
            [("requested_by_id", "=", self.env.uid), ("idempotency_key", "=", key)],
            limit=1,
        )
