from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    quotation_task_count = fields.Integer(
        string="AI Requests",
        compute="_compute_quotation_task_count",
        groups="odoo_mcp_quotation.group_quotation_task_user",
    )

    def _compute_quotation_task_count(self):
        """Requests of the partner and of its contacts, as Sale counts orders."""
        self.quotation_task_count = 0
        contacts = self.with_context(active_test=False).search_fetch(
            [("id", "child_of", self.ids)], ["parent_id"]
        )
        groups = self.env["quotation.task"]._read_group(
            [("partner_id", "in", contacts.ids)], ["partner_id"], ["__count"]
        )
        own_ids = set(self.ids)
        for contact, count in groups:
            partner = contact
            while partner:
                if partner.id in own_ids:
                    partner.quotation_task_count += count
                partner = partner.parent_id

    def action_view_quotation_tasks(self):
        contacts = self.with_context(active_test=False).search(
            [("id", "child_of", self.ids)]
        )
        tasks = self.env["quotation.task"].search([("partner_id", "in", contacts.ids)])
        return tasks._action_open_tasks(self.env._("AI Requests"))
