from odoo import api, fields, models


class CrmLead(models.Model):
    _inherit = "crm.lead"

    quotation_task_ids = fields.One2many(
        "quotation.task", "lead_id", string="AI Quotation Requests"
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
                [("lead_id", "in", self.ids)], ["lead_id"], ["__count"]
            )
        )
        for lead in self:
            lead.quotation_task_count = counts.get(lead, 0)

    def action_view_quotation_tasks(self):
        return self.quotation_task_ids._action_open_tasks(self.env._("AI Requests"))
