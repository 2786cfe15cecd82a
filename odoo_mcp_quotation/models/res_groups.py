from odoo import models

from .. import compat


class ResGroups(models.Model):
    _inherit = "res.groups"

    def _file_under_category(self, category_id, privilege_xmlid):
        """Called from security/odoo_mcp_quotation_security.xml: where these
        groups show in the user form differs between Odoo versions."""
        category = self.env["ir.module.category"].browse(category_id)
        compat.file_groups_under(self, category, privilege_xmlid)
