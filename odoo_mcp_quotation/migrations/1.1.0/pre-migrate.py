"""1.1.0: the audit log's Settings fields are ``ai_quotation_audit_*`` (were
``quotation_audit_*``), one prefix for every field of the addon's block.

Their keys in ``ir.config_parameter`` do not change, so no value moves. The
view that extends the Settings form with them still names the old fields,
and Odoo checks the form, with that extension, before it loads the new one:
the old extension goes first, and the update makes it again.
"""


def migrate(cr, version):
    cr.execute(
        """
        DELETE FROM ir_ui_view WHERE id IN (
            SELECT res_id FROM ir_model_data
             WHERE module = 'odoo_mcp_quotation' AND model = 'ir.ui.view'
               AND name = 'res_config_settings_view_form_audit_log'
        )
        """
    )
