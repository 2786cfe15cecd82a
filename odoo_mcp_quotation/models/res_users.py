from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

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
    ai_agent_key_ids = fields.One2many(
        "res.users.apikeys",
        string="API Keys and What They Reach",
        compute="_compute_ai_agent_key_ids",
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
            "ai_agent_key_ids",
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

    @api.depends("api_key_ids")
    def _compute_ai_agent_key_ids(self):
        """The user's keys, each saying whether it reaches Odoo's RPC too."""
        for user in self:
            user.ai_agent_key_ids = user.api_key_ids

    def action_new_ai_agent_key(self):
        """Odoo's New API Key dialog, for a key that reaches AI agents only
        (its Generate button asks for the password, as Odoo's does)."""
        if self != self.env.user:
            raise UserError(
                _(
                    "A key acts as its owner: log in as %s to make that user's "
                    "agent key.",
                    self.display_name,
                )
            )
        return {
            "type": "ir.actions.act_window",
            "res_model": "ai.agent.key.wizard",
            "name": _("New Agent Key"),
            "target": "new",
            "views": [(False, "form")],
        }

    @api.constrains("ai_agent_scopes")
    def _check_ai_agent_scopes(self):
        for user in self:
            try:
                scopes.parse(user.ai_agent_scopes)
            except scopes.UnknownScope as error:
                raise ValidationError(str(error)) from None

    def _ai_agent_scope_set(self):
        return scopes.parse(self.sudo().ai_agent_scopes, strict=False)
