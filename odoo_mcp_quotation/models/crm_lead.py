from odoo import models


class CrmLead(models.Model):
    _name = "crm.lead"
    _inherit = ["crm.lead", "quotation.task.source.mixin"]
    _quotation_task_field = "lead_id"
