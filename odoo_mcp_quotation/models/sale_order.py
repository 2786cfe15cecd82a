from odoo import api, models

# what changes an order's untaxed total, or which opportunity it counts for
REVENUE_FIELDS = {
    "order_line",
    "state",
    "opportunity_id",
    "currency_id",
    "pricelist_id",
}


class SaleOrder(models.Model):
    _name = "sale.order"
    _inherit = ["sale.order", "quotation.task.source.mixin"]
    _quotation_task_field = "sale_order_id"

    @api.model_create_multi
    def create(self, vals_list):
        orders = super().create(vals_list)
        orders._update_opportunity_revenue()
        return orders

    def write(self, vals):
        before = self.opportunity_id if "opportunity_id" in vals else None
        res = super().write(vals)
        if REVENUE_FIELDS.intersection(vals):
            self._update_opportunity_revenue(before)
        return res

    def unlink(self):
        leads = self.sudo().opportunity_id
        res = super().unlink()
        leads._follow_quotations_revenue()
        return res

    def _update_opportunity_revenue(self, other_leads=None):
        """The opportunities of these orders (and ``other_leads``, those they
        left) follow their quotations' total (``crm.lead``)."""
        leads = self.sudo().opportunity_id | (other_leads or self.env["crm.lead"])
        leads.sudo()._follow_quotations_revenue()
