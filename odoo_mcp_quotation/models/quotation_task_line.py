from odoo import fields, models


class QuotationTaskLine(models.Model):
    """A product the agent asked for, as said, and what it resolved to."""

    _name = "quotation.task.line"
    _description = "Quotation Task Line"
    _order = "task_id, sequence, id"

    task_id = fields.Many2one(
        "quotation.task", required=True, ondelete="cascade", index=True
    )
    sequence = fields.Integer(default=10)
    product_ref = fields.Char(
        string="Product as Requested",
        required=True,
        help="Internal reference, barcode or name, as the agent sent it.",
    )
    quantity = fields.Float(default=1.0, digits="Product Unit of Measure")
    product_id = fields.Many2one("product.product", string="Resolved Product")
