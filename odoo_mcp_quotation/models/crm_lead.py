from odoo import fields, models

# the context key of the revenue's own updates, which are not "by hand"
REVENUE_SYNC = "odoo_mcp_quotation_revenue_sync"


class CrmLead(models.Model):
    _name = "crm.lead"
    _inherit = ["crm.lead", "quotation.task.source.mixin"]
    _quotation_task_field = "lead_id"

    revenue_from_quotations = fields.Boolean(
        string="Revenue Follows Quotations",
        copy=False,
        help="The expected revenue is the untaxed total of the opportunity's "
        "quotations, kept up to date as they change, until a salesperson "
        "sets it by hand.",
    )
    elevenlabs_call_ids = fields.One2many(
        "elevenlabs.call",
        "lead_id",
        string="Voice Calls",
        groups="odoo_mcp_quotation.group_quotation_task_user",
    )
    elevenlabs_call_count = fields.Integer(
        string="Calls",
        compute="_compute_elevenlabs_call_count",
        groups="odoo_mcp_quotation.group_quotation_task_user",
    )

    def _compute_elevenlabs_call_count(self):
        counts = self._count_related("elevenlabs.call", "lead_id")
        for lead in self:
            lead.elevenlabs_call_count = counts.get(lead, 0)

    def action_view_elevenlabs_calls(self):
        return self._action_open_related(
            self.elevenlabs_call_ids, "odoo_mcp_quotation.elevenlabs_call_action"
        )

    def write(self, vals):
        """A revenue typed by a person stops following the quotations."""
        if "expected_revenue" in vals and not self.env.context.get(REVENUE_SYNC):
            vals = dict(vals, revenue_from_quotations=False)
        res = super().write(vals)
        if vals.get("revenue_from_quotations"):
            self._follow_quotations_revenue()
        return res

    def _follow_quotations_revenue(self):
        """Expected revenue = untaxed total of the quotations and orders not
        cancelled, in the company's currency (as Sale's "Sum of Orders"), for
        the opportunities that follow them."""
        for lead in self.sudo().filtered("revenue_from_quotations"):
            currency = lead.company_currency or self.env.company.currency_id
            revenue = sum(
                order.currency_id._convert(
                    order.amount_untaxed,
                    currency,
                    order.company_id,
                    order.date_order or fields.Date.today(),
                )
                for order in lead.order_ids
                if order.state != "cancel"
            )
            if currency.compare_amounts(revenue, lead.expected_revenue):
                lead.with_context(**{REVENUE_SYNC: True}).expected_revenue = revenue
