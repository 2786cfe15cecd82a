from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..lib import scopes


class ResUsers(models.Model):
    _inherit = "res.users"

    ai_agent_scopes = fields.Char(
        string="AI Agent Scopes",
        default=lambda self: scopes.format_scopes(scopes.DEFAULT),
        help="What this user's API keys, and the OAuth apps the user connects, "
        "may do, space-separated: "
        + "; ".join(f"{name}: {text}" for name, text in scopes.SCOPES.items()),
    )
    ai_agent_reach = fields.Text(
        string="AI Agents Can Reach", compute="_compute_ai_agent_reach"
    )
    ai_oauth_grant_ids = fields.One2many(
        "mcp.oauth.grant",
        "user_id",
        string="Connected Apps",
        domain=[("connected", "=", True)],
    )

    @property
    def SELF_READABLE_FIELDS(self):
        return [
            *super().SELF_READABLE_FIELDS,
            "ai_agent_scopes",
            "ai_agent_reach",
            "ai_oauth_grant_ids",
        ]

    @api.depends("ai_agent_scopes")
    def _compute_ai_agent_reach(self):
        for user in self:
            tools, routes = scopes.reach(scopes.parse(user.ai_agent_scopes, False))
            user.ai_agent_reach = "\n".join(
                [
                    _("MCP tools: %s", ", ".join(tools) or _("none")),
                    _("REST routes: %s", ", ".join(routes) or _("none")),
                ]
            )

    @api.constrains("ai_agent_scopes")
    def _check_ai_agent_scopes(self):
        for user in self:
            try:
                scopes.parse(user.ai_agent_scopes)
            except scopes.UnknownScope as error:
                raise ValidationError(str(error)) from None

    def _ai_agent_scope_set(self):
        return scopes.parse(self.sudo().ai_agent_scopes, strict=False)
