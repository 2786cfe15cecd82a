from odoo import api, fields, models

from ..services.caller import KEY_SCOPE


class ResUsersApikeys(models.Model):
    _inherit = "res.users.apikeys"

    ai_agent_key_reach = fields.Selection(
        [
            ("agents", "AI agents only"),
            ("agents_rpc", "AI agents and Odoo's RPC"),
            ("other", "Not AI agents"),
        ],
        string="Reaches",
        compute="_compute_ai_agent_key_reach",
        help="An agent key (New Agent Key) reaches this addon's REST API and "
        "MCP server only; Odoo's XML-RPC and JSON-RPC refuse it. A global key "
        "(New API Key) reaches both.",
    )

    @api.depends("scope")
    def _compute_ai_agent_key_reach(self):
        for key in self:
            if key.scope == KEY_SCOPE:
                key.ai_agent_key_reach = "agents"
            elif not key.scope:
                key.ai_agent_key_reach = "agents_rpc"
            else:
                key.ai_agent_key_reach = "other"

    def _generate(self, scope, name, expiration_date):
        """Odoo's key wizard makes global keys; ours (``ai.agent.key.wizard``)
        asks, through the context, for a key of this addon's scope."""
        if scope is None and self.env.context.get("ai_agent_key"):
            scope = KEY_SCOPE
        return super()._generate(scope, name, expiration_date)
