from odoo import fields, models


class CrmLead(models.Model):
    _name = "crm.lead"
    _inherit = ["crm.lead", "quotation.task.source.mixin"]
    _quotation_task_field = "lead_id"

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
