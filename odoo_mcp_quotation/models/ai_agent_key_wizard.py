from odoo import models

from odoo.addons.base.models.res_users import check_identity


class AiAgentKeyWizard(models.TransientModel):
    """Odoo's New API Key wizard (same duration rules, identity check and
    show-once dialog), making a key only this addon accepts: Odoo's XML-RPC
    and JSON-RPC refuse it."""

    _name = "ai.agent.key.wizard"
    _inherit = "res.users.apikeys.description"
    _description = "New AI Agent Key"

    @check_identity  # marks it for the identity check's run_check
    def make_key(self):
        return super(AiAgentKeyWizard, self.with_context(ai_agent_key=True)).make_key()
