from odoo import models


class ResPartner(models.Model):
    _name = "res.partner"
    _inherit = ["res.partner", "quotation.task.source.mixin"]
    _quotation_task_field = "partner_id"

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

    def _quotation_task_domain(self):
        contacts = self.with_context(active_test=False).search(
            [("id", "child_of", self.ids)]
        )
        return [("partner_id", "in", contacts.ids)]
