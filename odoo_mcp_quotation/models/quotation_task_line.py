from pydantic import ValidationError as PydanticValidationError

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, ValidationError

from ..lib.request_schema import MAX_QUANTITY, QUANTITY


class QuotationTaskLine(models.Model):
    """A product the agent asked for, as said, and what it resolved to."""

    _name = "quotation.task.line"
    _inherit = ["quotation.engine.fields.mixin"]
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
    product_id = fields.Many2one(
        "product.product", string="Resolved Product", readonly=True
    )

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            self._check_quantities(vals_list)
            task_ids = {vals["task_id"] for vals in vals_list if vals.get("task_id")}
            self.env["quotation.task"].browse(task_ids)._check_lines_addable()
        return super().create(vals_list)

    def write(self, vals):
        if "task_id" in vals and not self.env.su:
            raise AccessError(_("A requested line cannot move to another request."))
        if not self.env.su:
            self._check_quantities([vals])
        return super().write(vals)

    @api.model
    def _check_quantities(self, vals_list):
        """The API's bounds hold over the ORM too: an infinite or NaN quantity
        would fail in Odoo's rounding with a server error."""
        for vals in vals_list:
            try:
                QUANTITY.validate_python(vals.get("quantity", 1.0), strict=True)
            except PydanticValidationError:
                raise ValidationError(
                    _(
                        "A requested quantity is above 0 and at most %s.",
                        MAX_QUANTITY,
                    )
                ) from None
