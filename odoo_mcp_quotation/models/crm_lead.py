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
        counts = dict(
            self.env["elevenlabs.call"]._read_group(
                [("lead_id", "in", self.ids)], ["lead_id"], ["__count"]
            )
        )
        for lead in self:
            lead.elevenlabs_call_count = counts.get(lead, 0)

    def action_view_elevenlabs_calls(self):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "odoo_mcp_quotation.elevenlabs_call_action"
        )
        calls = self.elevenlabs_call_ids
        action.update(domain=[("id", "in", calls.ids)], context={})
        if len(calls) == 1:
            action.update(res_id=calls.id, views=[(False, "form")])
        return action
