from odoo import api, models

# what changes a line's untaxed subtotal
SUBTOTAL_FIELDS = {
    "product_id",
    "product_uom_qty",
    "price_unit",
    "discount",
    "tax_id",
    "tax_ids",
    "display_type",
}
# what the customer reads on a line (its quotation's content, sale.order)
CONTENT_FIELDS = SUBTOTAL_FIELDS | {"name", "product_uom", "product_uom_id"}


class SaleOrderLine(models.Model):
    _inherit = "sale.order.line"

    @api.model_create_multi
    def create(self, vals_list):
        lines = super().create(vals_list)
        lines.order_id._content_edited()
        lines.order_id._update_opportunity_revenue()
        return lines

    def write(self, vals):
        res = super().write(vals)
        if CONTENT_FIELDS.intersection(vals):
            self.order_id._content_edited()
        if SUBTOTAL_FIELDS.intersection(vals):
            self.order_id._update_opportunity_revenue()
        return res

    def unlink(self):
        orders = self.order_id
        res = super().unlink()
        orders.exists()._content_edited()
        orders.exists()._update_opportunity_revenue()
        return res
