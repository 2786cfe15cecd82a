import re

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

ORIGIN_PATTERN = re.compile(r"^https?://[A-Za-z0-9.\-]+(:\d{1,5})?$")


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    # ------------------------------------------------------------ quotations
    ai_quotation_team_id = fields.Many2one(
        "crm.team",
        string="AI Quotations Sales Team",
        config_parameter="odoo_mcp_quotation.team_id",
        help="Sales team of the opportunities and quotations AI agents create. "
        "Empty: the salesperson's team.",
    )
    ai_quotation_user_id = fields.Many2one(
        "res.users",
        string="AI Quotations Salesperson",
        domain="[('share', '=', False)]",
        config_parameter="odoo_mcp_quotation.user_id",
        help="Salesperson of AI quotations whose customer has none of their own. "
        "Empty: such quotations stay unassigned and every salesperson sees them.",
    )
    ai_quotation_pricelist_id = fields.Many2one(
        "product.pricelist",
        string="AI Quotations Pricelist",
        config_parameter="odoo_mcp_quotation.pricelist_id",
        help="Pricelist of every AI quotation. Empty: the customer's own "
        "pricelist, as for a quotation typed in Odoo.",
    )
    ai_quotation_send_email = fields.Boolean(
        string="E-mail AI Quotations to Customers",
        config_parameter="odoo_mcp_quotation.send_quotation_email",
        help="Send each new quotation to the customer with the Sales quotation "
        "e-mail template and mark it as sent. Customers without an e-mail "
        "address are skipped.",
    )
    # ------------------------------------------------------------ agent access
    ai_quotation_max_attempts = fields.Integer(
        string="Maximum Attempts",
        default=5,
        config_parameter="odoo_mcp_quotation.max_attempts",
        help="How many times a request is tried before it is marked failed. "
        "Problems in the request itself (an unknown product) fail at once.",
    )
    ai_quotation_backoff_seconds = fields.Integer(
        string="First Retry After (s)",
        default=10,
        config_parameter="odoo_mcp_quotation.backoff_seconds",
        help="Wait before the first retry; each further retry waits twice as "
        "long, up to one hour.",
    )
    ai_quotation_rate_limit = fields.Integer(
        string="Requests per Minute per API Key",
        default=60,
        config_parameter="odoo_mcp_quotation.rate_limit_per_minute",
        help="Requests one API key may send per minute to the REST API; more are "
        "answered 429 with Retry-After.",
    )
    ai_quotation_mcp_allowed_origins = fields.Char(
        string="Allowed MCP Origins",
        config_parameter="odoo_mcp_quotation.mcp_allowed_origins",
        help="Comma-separated origins (https://app.example.com) of browser-based "
        "MCP clients. Requests with another Origin header are refused; clients "
        "that send none (Claude Code, server tools) are not affected.",
    )

    @api.constrains(
        "ai_quotation_max_attempts",
        "ai_quotation_backoff_seconds",
        "ai_quotation_rate_limit",
    )
    def _check_ai_quotation_queue_settings(self):
        for settings in self:
            if settings.ai_quotation_max_attempts < 1:
                raise ValidationError(_("Maximum attempts must be at least 1."))
            if settings.ai_quotation_backoff_seconds < 0:
                raise ValidationError(_("The retry delay cannot be negative."))
            if settings.ai_quotation_rate_limit < 1:
                raise ValidationError(
                    _("The rate limit must allow at least 1 request per minute.")
                )

    @api.constrains("ai_quotation_mcp_allowed_origins")
    def _check_ai_quotation_mcp_allowed_origins(self):
        for settings in self:
            for origin in _split_origins(settings.ai_quotation_mcp_allowed_origins):
                if not ORIGIN_PATTERN.match(origin):
                    raise ValidationError(
                        _(
                            "%(origin)s is not an origin: write scheme and host, "
                            "such as https://app.example.com, without a path.",
                            origin=origin,
                        )
                    )

    def set_values(self):
        self.ai_quotation_mcp_allowed_origins = (
            ",".join(_split_origins(self.ai_quotation_mcp_allowed_origins)) or False
        )
        return super().set_values()

    def action_open_my_api_keys(self):
        """Open my preferences, where Account Security creates API keys."""
        action = self.env["res.users"].action_get()
        action["res_id"] = self.env.uid
        return action


def _split_origins(value):
    return [
        origin.strip().rstrip("/")
        for origin in (value or "").split(",")
        if origin.strip()
    ]
