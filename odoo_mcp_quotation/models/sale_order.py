from odoo import api, fields, models

# what changes an order's untaxed total, or which opportunity it counts for
REVENUE_FIELDS = {
    "order_line",
    "state",
    "opportunity_id",
    "currency_id",
    "pricelist_id",
}
# what the customer is quoted, as a person edits it in the quotation's form
# (its lines stamp it themselves: sale.order.line); never the e-mail, the
# state, the salesperson, the opportunity or the chatter
CONTENT_FIELDS = {
    "partner_id",
    "partner_invoice_id",
    "partner_shipping_id",
    "pricelist_id",
    "currency_id",
    "fiscal_position_id",
    "payment_term_id",
    "validity_date",
    "client_order_ref",
    "note",
}


class SaleOrder(models.Model):
    _name = "sale.order"
    _inherit = ["sale.order", "quotation.task.source.mixin"]
    _quotation_task_field = "sale_order_id"

    content_write_uid = fields.Many2one(
        "res.users",
        string="Content Last Edited by",
        readonly=True,
        copy=False,
        help="Who last changed what the customer is quoted (lines, customer, "
        "terms, notes); e-mailing the quotation or following it up does not "
        "count. An agent's change is refused once someone else did.",
    )
    content_write_date = fields.Datetime(
        string="Content Last Edited on", readonly=True, copy=False
    )

    @api.model_create_multi
    def create(self, vals_list):
        orders = super().create(vals_list)
        orders._update_opportunity_revenue()
        return orders

    def write(self, vals):
        before = self.opportunity_id if "opportunity_id" in vals else None
        if CONTENT_FIELDS.intersection(vals):
            vals = {**vals, **self._content_stamp()}
        res = super().write(vals)
        if REVENUE_FIELDS.intersection(vals):
            self._update_opportunity_revenue(before)
        return res

    def unlink(self):
        leads = self.sudo().opportunity_id
        res = super().unlink()
        leads._follow_quotations_revenue()
        return res

    def _content_stamp(self):
        """Who edits what the customer is quoted, and when (to the microsecond,
        as ``write_date``): the quotation's version as agents read it."""
        return {
            "content_write_uid": self.env.uid,
            "content_write_date": self.env.cr.now(),
        }

    def _content_edited(self):
        """A line of these orders changed, by the current user."""
        self.sudo().write(self._content_stamp())

    def _content_editor(self):
        """Who last edited what the customer is quoted; for an order no line
        of which changed since this addon was installed, whoever last wrote it."""
        self.ensure_one()
        return self.content_write_uid or self.write_uid

    def _update_opportunity_revenue(self, other_leads=None):
        """The opportunities of these orders (and ``other_leads``, those they
        left) follow their quotations' total (``crm.lead``)."""
        leads = self.sudo().opportunity_id | (other_leads or self.env["crm.lead"])
        leads.sudo()._follow_quotations_revenue()
