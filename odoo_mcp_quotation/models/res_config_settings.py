import json
import re

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..services import oauth_server
from ..services.audit_store import (
    AuditStoreError,
    build_destinations,
    key_prefix,
    object_key,
    put_everywhere,
)
from ..services.client_registration import DEFAULT_ALLOWED_REDIRECTS, parse_allow_list
from .elevenlabs_webhook_delivery import SECRET_PARAM, WEBHOOK_PATH
from .quotation_audit_entry import PARAM_PREFIX, SCHEMA_VERSION

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
        default=300,
        config_parameter="odoo_mcp_quotation.rate_limit_per_minute",
        help="Requests one API key may send per minute to the REST API; more are "
        "answered 429 with Retry-After.",
    )
    ai_quotation_rate_limit_user = fields.Integer(
        string="Requests per Minute per User",
        default=600,
        config_parameter="odoo_mcp_quotation.rate_limit_per_user_per_minute",
        help="Requests one user may send per minute with all their API keys "
        "together, to the REST API and the MCP server; more are answered 429 "
        "with Retry-After.",
    )
    ai_quotation_mcp_streams_per_user = fields.Integer(
        string="Live MCP Streams per User",
        default=5,
        config_parameter="odoo_mcp_quotation.mcp_streams_per_user",
        help="Legacy SSE streams (GET /mcp/sse) one user may hold open at once; "
        "each holds a database connection.",
    )
    ai_quotation_mcp_streams = fields.Integer(
        string="Live MCP Streams in All",
        default=50,
        config_parameter="odoo_mcp_quotation.mcp_streams",
        help="Legacy SSE streams the whole server may hold open at once; keep it "
        "below the database connections of Odoo's gevent process.",
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

    @api.constrains(
        "ai_quotation_rate_limit_user",
        "ai_quotation_mcp_streams_per_user",
        "ai_quotation_mcp_streams",
    )
    def _check_ai_quotation_mcp_limits(self):
        for settings in self:
            if settings.ai_quotation_rate_limit_user < 1:
                raise ValidationError(
                    _("The rate limit must allow at least 1 request per minute.")
                )
            if (
                min(
                    settings.ai_quotation_mcp_streams_per_user,
                    settings.ai_quotation_mcp_streams,
                )
                < 1
            ):
                raise ValidationError(_("Stream limits must allow at least 1 stream."))

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

    # ------------------------------------------------------------------ audit log
    quotation_audit_enabled = fields.Boolean(
        string="AI Quotations Audit Log",
        config_parameter=PARAM_PREFIX + "enabled",
        help="Keep every quotation request and its outcome as JSON documents "
        "outside Odoo.",
    )
    quotation_audit_prefix = fields.Char(
        string="Key Prefix",
        config_parameter=PARAM_PREFIX + "prefix",
        default="quotation-audit",
        help="Documents are written to <prefix>/YYYY/MM/DD/<tracking id>/<event>.json",
    )
    quotation_audit_s3_bucket = fields.Char(
        string="S3 Bucket", config_parameter=PARAM_PREFIX + "s3_bucket"
    )
    quotation_audit_s3_region = fields.Char(
        string="S3 Region",
        config_parameter=PARAM_PREFIX + "s3_region",
        help="Empty: AWS_REGION from the server's environment or boto3's default.",
    )
    quotation_audit_s3_endpoint_url = fields.Char(
        string="S3 Endpoint URL",
        config_parameter=PARAM_PREFIX + "s3_endpoint_url",
        help="Only for S3-compatible stores such as MinIO "
        "(http://minio:9000); empty for AWS S3.",
    )
    quotation_audit_s3_access_key_id = fields.Char(
        string="S3 Access Key ID",
        config_parameter=PARAM_PREFIX + "s3_access_key_id",
        groups="base.group_system",
        help="Empty: credentials come from the server's environment "
        "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or its instance role.",
    )
    quotation_audit_s3_secret_access_key = fields.Char(
        string="S3 Secret Access Key",
        config_parameter=PARAM_PREFIX + "s3_secret_access_key",
        groups="base.group_system",
    )
    quotation_audit_local_directory = fields.Char(
        string="Local Directory",
        config_parameter=PARAM_PREFIX + "local_directory",
        groups="base.group_system",
        help="Also (or only) write the documents under this directory of the "
        "Odoo server.",
    )
    quotation_audit_pending_count = fields.Integer(
        string="Audit Entries Waiting", compute="_compute_quotation_audit_status"
    )
    quotation_audit_last_error = fields.Text(
        string="Last Audit Log Error", compute="_compute_quotation_audit_status"
    )

    @api.depends("quotation_audit_enabled")
    def _compute_quotation_audit_status(self):
        entries = self.env["quotation.audit.entry"].sudo()
        pending = entries.search_count([("state", "=", "pending")])
        last_failed = entries.search(
            [("state", "=", "pending"), ("error", "!=", False)],
            order="write_date desc, id desc",
            limit=1,
        )
        for settings in self:
            settings.quotation_audit_pending_count = pending
            settings.quotation_audit_last_error = last_failed.error or False

    @api.constrains("quotation_audit_prefix", "quotation_audit_s3_endpoint_url")
    def _check_quotation_audit_settings(self):
        for settings in self:
            try:
                key_prefix(settings.quotation_audit_prefix)
            except ValueError:
                raise ValidationError(
                    _(
                        "The audit key prefix may hold at most 256 letters, digits "
                        "and - _ . / with no segment starting with a dot: for "
                        "example quotation-audit/production."
                    )
                ) from None
            endpoint = settings.quotation_audit_s3_endpoint_url
            if endpoint and not endpoint.strip().startswith(("http://", "https://")):
                raise ValidationError(
                    _(
                        "The S3 endpoint URL must start with http:// or https://, "
                        "for example http://minio:9000."
                    )
                )

    def _quotation_audit_config(self):
        """The destination settings as typed in the form, saved or not."""
        self.ensure_one()
        entries = self.env["quotation.audit.entry"]
        return {
            "s3_bucket": (self.quotation_audit_s3_bucket or "").strip(),
            "s3_region": (self.quotation_audit_s3_region or "").strip(),
            "s3_endpoint_url": (self.quotation_audit_s3_endpoint_url or "").strip(),
            "s3_access_key_id": (self.quotation_audit_s3_access_key_id or "").strip(),
            "s3_secret_access_key": (
                self.quotation_audit_s3_secret_access_key or ""
            ).strip(),
            "local_directory": (self.quotation_audit_local_directory or "").strip(),
            "concurrency": entries._audit_setting("concurrency"),
        }

    def action_quotation_audit_test_connection(self):
        """Write a small probe document where the audit log would go."""
        self.ensure_one()
        key = object_key(self.quotation_audit_prefix, "_connection_test.json")
        probe = {
            "schema_version": SCHEMA_VERSION,
            "event": "connection_test",
            "occurred_at": fields.Datetime.now().isoformat() + "Z",
            "database": self.env.cr.dbname,
            "actor": {"id": self.env.user.id, "login": self.env.user.login},
        }
        try:
            destinations = build_destinations(self._quotation_audit_config())
            put_everywhere(destinations, key, json.dumps(probe, indent=2).encode())
        except AuditStoreError as error:
            raise UserError(_("Connection test failed. %s", error)) from None
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "title": _("Connection test successful"),
                "message": _(
                    "Wrote %(key)s to %(destinations)s.",
                    key=key,
                    destinations=", ".join(str(d) for d in destinations),
                ),
            },
        }

    # ------------------------------------------------------------------ OAuth
    ai_quotation_oauth_enabled = fields.Boolean(
        string="Claude Connectors (OAuth)",
        config_parameter=oauth_server.ENABLED_PARAM,
        help="Let Claude and other MCP clients connect through OAuth: each user "
        "logs in to Odoo and consents. Off: only API keys are accepted, and every "
        "OAuth token is refused at once.",
    )
    ai_quotation_oauth_access_minutes = fields.Integer(
        string="Access Token Lifetime (minutes)",
        default=oauth_server.DEFAULT_ACCESS_MINUTES,
        config_parameter=oauth_server.ACCESS_MINUTES_PARAM,
    )
    ai_quotation_oauth_refresh_days = fields.Integer(
        string="Refresh Token Lifetime (days)",
        default=oauth_server.DEFAULT_REFRESH_DAYS,
        config_parameter=oauth_server.REFRESH_DAYS_PARAM,
        help="A connected app that stays unused longer must be authorized again.",
    )
    ai_quotation_oauth_redirect_allow_list = fields.Char(
        string="Allowed Redirect URIs",
        default=" ".join(DEFAULT_ALLOWED_REDIRECTS),
        config_parameter=oauth_server.REDIRECT_ALLOW_LIST_PARAM,
        help="Apps may register themselves only with these redirect URIs, "
        "separated by spaces; http://127.0.0.1:* allows any port (Claude Code).",
    )

    @api.constrains(
        "ai_quotation_oauth_access_minutes",
        "ai_quotation_oauth_refresh_days",
        "ai_quotation_oauth_redirect_allow_list",
    )
    def _check_ai_quotation_oauth_settings(self):
        for settings in self:
            if (
                settings.ai_quotation_oauth_access_minutes < 1
                or settings.ai_quotation_oauth_refresh_days < 1
            ):
                raise ValidationError(
                    _("OAuth token lifetimes must be at least 1 minute and 1 day.")
                )
            try:
                parse_allow_list(settings.ai_quotation_oauth_redirect_allow_list)
            except ValueError as error:
                raise ValidationError(str(error)) from None

    # ------------------------------------------------------------ ElevenLabs post-call
    ai_quotation_elevenlabs_secret = fields.Char(
        string="ElevenLabs Webhook Secret",
        compute="_compute_ai_quotation_elevenlabs_secret",
        inverse="_inverse_ai_quotation_elevenlabs_secret",
        groups="base.group_system",
        help="The HMAC secret ElevenLabs shows when the post-call webhook is "
        "created. Kept, never shown again: type a new one to replace it.",
    )
    ai_quotation_elevenlabs_secret_set = fields.Boolean(
        string="ElevenLabs Webhook Secret Set",
        compute="_compute_ai_quotation_elevenlabs_status",
    )
    ai_quotation_elevenlabs_webhook_url = fields.Char(
        string="Post-Call Webhook URL",
        compute="_compute_ai_quotation_elevenlabs_status",
    )

    def _compute_ai_quotation_elevenlabs_secret(self):
        """Write-only: the form never receives the secret back."""
        self.ai_quotation_elevenlabs_secret = False

    @api.depends("company_id")  # a dependency, so the settings form computes it
    def _compute_ai_quotation_elevenlabs_status(self):
        params = self.env["ir.config_parameter"].sudo()
        is_set = bool(params.get_param(SECRET_PARAM))
        url = params.get_param("web.base.url", "").rstrip("/") + WEBHOOK_PATH
        for settings in self:
            settings.ai_quotation_elevenlabs_secret_set = is_set
            settings.ai_quotation_elevenlabs_webhook_url = url

    def _inverse_ai_quotation_elevenlabs_secret(self):
        for settings in self:
            secret = (settings.ai_quotation_elevenlabs_secret or "").strip()
            if secret:
                self.env["ir.config_parameter"].sudo().set_param(SECRET_PARAM, secret)


def _split_origins(value):
    return [
        origin.strip().rstrip("/")
        for origin in (value or "").split(",")
        if origin.strip()
    ]
