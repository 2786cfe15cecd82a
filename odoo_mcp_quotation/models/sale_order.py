from odoo import api, fields, models


class SaleOrder(models.Model):
    _inherit = "sale.order"

    quotation_task_ids = fields.One2many(
        "quotation.task", "sale_order_id", string="AI Quotation Requests"
    )
    quotation_task_count = fields.Integer(
        string="AI Requests",
        compute="_compute_quotation_task_count",
        groups="odoo_mcp_quotation.group_quotation_task_user",
    )

    @api.depends("quotation_task_ids")
    def _compute_quotation_task_count(self):
        counts = dict(
            self.env["quotation.task"]._read_group(
                [("sale_order_id", "in", self.ids)], ["sale_order_id"], ["__count"]
            )
        )
        for order in self:
            order.quotation_task_count = counts.get(order, 0)

    def action_view_quotation_tasks(self):
        return self.quotation_task_ids._action_open_tasks(self.env._("AI Requests"))
