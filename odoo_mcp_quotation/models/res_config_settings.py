import json
import re

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..lib.audit_store import (
    AuditStoreError,
    build_destinations,
    object_key,
    put_everywhere,
)
from ..lib.conversation_init import PATH as INIT_PATH
from ..lib.conversation_init import share_setting, shareable
from ..lib.settings import SETTINGS, read_setting, setting_field
from .elevenlabs_webhook_delivery import WEBHOOK_PATH
from .quotation_audit_entry import SCHEMA_VERSION

ORIGIN_PATTERN = re.compile(r"^https?://[A-Za-z0-9.\-]+(:\d{1,5})?$")


# the write-only secrets of the form: field -> (its setting, its webhook's URL
# field, the webhook's path); each also has a "<field>_set" flag
WRITE_ONLY_SECRETS = {
    "ai_quotation_elevenlabs_secret": (
        "elevenlabs_webhook_secret",
        "ai_quotation_elevenlabs_webhook_url",
        WEBHOOK_PATH,
    ),
    "ai_quotation_init_secret": (
        "elevenlabs_init_secret",
        "ai_quotation_init_webhook_url",
        INIT_PATH,
    ),
}


def _write_only_secret(string, help):
    """A secret of ``WRITE_ONLY_SECRETS``: typed in, kept, never shown again."""
    return fields.Char(
        string=string,
        compute="_compute_ai_quotation_secrets",
        inverse="_inverse_ai_quotation_secrets",
        groups="base.group_system",
        help=help,
    )


def _share_switch(string, personal=False):
    """A switch of one conversation initiation variable (an unshared one is
    answered empty)."""
    return fields.Boolean(
        string=string,
        compute="_compute_ai_quotation_share",
        inverse="_inverse_ai_quotation_share",
        help="Personal data: off unless enabled." if personal else None,
    )


class ResConfigSettings(models.TransientModel):
    """The AI Quotations block of Sales settings: each field stores one setting
    of ``lib/settings.py``, which gives its key and its default."""

    _inherit = "res.config.settings"

    # ------------------------------------------------------------ quotations
    ai_quotation_team_id = fields.Many2one(
        "crm.team",
        string="AI Quotations Sales Team",
        **setting_field("team_id"),
        help="Sales team of the opportunities and quotations AI agents create. "
        "Empty: the salesperson's team.",
    )
    ai_quotation_user_id = fields.Many2one(
        "res.users",
        string="AI Quotations Salesperson",
        domain="[('share', '=', False)]",
        **setting_field("user_id"),
        help="Salesperson of AI quotations whose customer has none of their own. "
        "Empty: such quotations stay unassigned and every salesperson sees them.",
    )
    ai_quotation_pricelist_id = fields.Many2one(
        "product.pricelist",
        string="AI Quotations Pricelist",
        **setting_field("pricelist_id"),
        help="Pricelist of every AI quotation. Empty: the customer's own "
        "pricelist, as for a quotation typed in Odoo.",
    )
    ai_quotation_send_email = fields.Boolean(
        string="E-mail AI Quotations to Customers",
        **setting_field("send_quotation_email"),
        help="Send each new quotation to the customer with the Sales quotation "
        "e-mail template and mark it as sent. Customers without an e-mail "
        "address are skipped.",
    )
    # ------------------------------------------------------------ agent access
    ai_quotation_max_attempts = fields.Integer(
        string="Maximum Attempts",
        **setting_field("max_attempts"),
        help="How many times a request is tried before it is marked failed. "
        "Problems in the request itself (an unknown product) fail at once.",
    )
    ai_quotation_backoff_seconds = fields.Integer(
        string="First Retry After (s)",
        **setting_field("backoff_seconds"),
        help="Wait before the first retry; each further retry waits twice as "
        "long, up to one hour.",
    )
    ai_quotation_rate_limit = fields.Integer(
        string="Requests per Minute per API Key",
        **setting_field("rate_limit_per_minute"),
        help="Requests one API key may send per minute to the REST API; more are "
        "answered 429 with Retry-After.",
    )
    ai_quotation_rate_limit_user = fields.Integer(
        string="Requests per Minute per User",
        **setting_field("rate_limit_per_user_per_minute"),
        help="Requests one user may send per minute with all their API keys "
        "together, to the REST API and the MCP server; more are answered 429 "
        "with Retry-After.",
    )
    ai_quotation_mcp_streams_per_user = fields.Integer(
        string="Live MCP Streams per User",
        **setting_field("mcp_streams_per_user"),
        help="Legacy SSE streams (GET /mcp/sse) one user may hold open at once; "
        "each holds a database connection.",
    )
    ai_quotation_mcp_streams = fields.Integer(
        string="Live MCP Streams in All",
        **setting_field("mcp_streams"),
        help="Legacy SSE streams the whole server may hold open at once; keep it "
        "below the database connections of Odoo's gevent process.",
    )
    ai_quotation_mcp_allowed_origins = fields.Char(
        string="Allowed MCP Origins",
        **setting_field("mcp_allowed_origins"),
        help="Comma-separated origins (https://app.example.com) of browser-based "
        "MCP clients. Requests with another Origin header are refused; clients "
        "that send none (Claude Code, server tools) are not affected.",
    )
    # ------------------------------------------------------------------ audit log
    ai_quotation_audit_enabled = fields.Boolean(
        string="AI Quotations Audit Log",
        **setting_field("audit_enabled"),
        help="Keep every quotation request and its outcome as JSON documents "
        "outside Odoo.",
    )
    ai_quotation_audit_prefix = fields.Char(
        string="Key Prefix",
        **setting_field("audit_prefix"),
        help="Documents are written to <prefix>/YYYY/MM/DD/<tracking id>/<event>.json",
    )
    ai_quotation_audit_s3_bucket = fields.Char(
        string="S3 Bucket", **setting_field("audit_s3_bucket")
    )
    ai_quotation_audit_s3_region = fields.Char(
        string="S3 Region",
        **setting_field("audit_s3_region"),
        help="Empty: AWS_REGION from the server's environment or boto3's default.",
    )
    ai_quotation_audit_s3_endpoint_url = fields.Char(
        string="S3 Endpoint URL",
        **setting_field("audit_s3_endpoint_url"),
        help="Only for S3-compatible stores such as MinIO "
        "(http://minio:9000); empty for AWS S3.",
    )
    ai_quotation_audit_s3_access_key_id = fields.Char(
        string="S3 Access Key ID",
        **setting_field("audit_s3_access_key_id"),
        groups="base.group_system",
        help="Empty: credentials come from the server's environment "
        "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or its instance role.",
    )
    ai_quotation_audit_s3_secret_access_key = fields.Char(
        string="S3 Secret Access Key",
        **setting_field("audit_s3_secret_access_key"),
        groups="base.group_system",
    )
    ai_quotation_audit_local_directory = fields.Char(
        string="Local Directory",
        **setting_field("audit_local_directory"),
        groups="base.group_system",
        help="Also (or only) write the documents under this directory of the "
        "Odoo server.",
    )
    ai_quotation_audit_pending_count = fields.Integer(
        string="Audit Entries Waiting", compute="_compute_ai_quotation_audit_status"
    )
    ai_quotation_audit_last_error = fields.Text(
        string="Last Audit Log Error", compute="_compute_ai_quotation_audit_status"
    )
    # ------------------------------------------------------------------ OAuth
    ai_quotation_oauth_enabled = fields.Boolean(
        string="Claude Connectors (OAuth)",
        **setting_field("oauth_enabled"),
        help="Let Claude and other MCP clients connect through OAuth: each user "
        "logs in to Odoo and consents. Off: only API keys are accepted, and every "
        "OAuth token is refused at once.",
    )
    ai_quotation_oauth_access_minutes = fields.Integer(
        string="Access Token Lifetime (minutes)",
        **setting_field("oauth_access_token_minutes"),
    )
    ai_quotation_oauth_refresh_days = fields.Integer(
        string="Refresh Token Lifetime (days)",
        **setting_field("oauth_refresh_token_days"),
        help="A connected app that stays unused longer must be authorized again.",
    )
    ai_quotation_oauth_redirect_allow_list = fields.Char(
        string="Allowed Redirect URIs",
        **setting_field("oauth_redirect_allow_list"),
        help="Apps may register themselves only with these redirect URIs, "
        "separated by spaces; http://127.0.0.1:* allows any port (Claude Code).",
    )
    # ------------------------------------------------------------ ElevenLabs post-call
    ai_quotation_elevenlabs_user_id = fields.Many2one(
        "res.users",
        string="Voice Agent User",
        domain="[('share', '=', False)]",
        **setting_field("elevenlabs_user_id"),
        help="The user whose API key the ElevenLabs agent's tools send. A call "
        "joins only the quotation requests this user made during it: any user "
        "with a key could claim another call's conversation id. Empty: calls "
        "join no request and wait in Voice Calls for triage.",
    )
    ai_quotation_elevenlabs_secret = _write_only_secret(
        "ElevenLabs Webhook Secret",
        help="The HMAC secret ElevenLabs shows when the post-call webhook is "
        "created. Kept, never shown again: type a new one to replace it.",
    )
    ai_quotation_elevenlabs_secret_set = fields.Boolean(
        string="ElevenLabs Webhook Secret Set",
        compute="_compute_ai_quotation_secret_status",
    )
    ai_quotation_elevenlabs_webhook_url = fields.Char(
        string="Post-Call Webhook URL",
        compute="_compute_ai_quotation_secret_status",
    )

    # ------------------------------------------------ ElevenLabs caller before the call
    ai_quotation_init_secret = _write_only_secret(
        "Conversation Initiation Secret",
        help="The value ElevenLabs sends in the X-Odoo-Secret header of the "
        "conversation initiation webhook. Kept, never shown again: type a new "
        "one to replace it.",
    )
    ai_quotation_init_secret_set = fields.Boolean(
        string="Conversation Initiation Secret Set",
        compute="_compute_ai_quotation_secret_status",
    )
    ai_quotation_init_webhook_url = fields.Char(
        string="Conversation Initiation Webhook URL",
        compute="_compute_ai_quotation_secret_status",
    )
    # which variables the webhook answers (the others are answered empty)
    ai_quotation_share_customer_name = _share_switch(
        "Share the Customer's Name", personal=True
    )
    ai_quotation_share_customer_company = _share_switch("Share the Customer's Company")
    ai_quotation_share_customer_email = _share_switch(
        "Share the Customer's E-mail", personal=True
    )
    ai_quotation_share_customer_language = _share_switch(
        "Share the Customer's Language"
    )
    ai_quotation_share_salesperson = _share_switch("Share the Salesperson")
    ai_quotation_share_last_quotations = _share_switch("Share the Last Quotations")
    ai_quotation_share_open_quotations = _share_switch("Share the Open Quotations")

    # ------------------------------------------------------------ computes
    def _compute_ai_quotation_secrets(self):
        """Write-only: the form never receives a secret back."""
        for name in WRITE_ONLY_SECRETS:
            self[name] = False

    @api.depends("company_id")  # a dependency, so the settings form computes it
    def _compute_ai_quotation_secret_status(self):
        params = self.env["ir.config_parameter"].sudo()
        base_url = params.get_param("web.base.url", "").rstrip("/")
        for name, (setting, url_field, path) in WRITE_ONLY_SECRETS.items():
            is_set = bool(read_setting(self.env, setting))
            for settings in self:
                settings[f"{name}_set"] = is_set
                settings[url_field] = base_url + path

    def _inverse_ai_quotation_secrets(self):
        """A secret typed in replaces the stored one; left empty, it is kept."""
        params = self.env["ir.config_parameter"].sudo()
        for settings in self:
            for name, (setting, _url_field, _path) in WRITE_ONLY_SECRETS.items():
                secret = (settings[name] or "").strip()
                if secret:
                    params.set_param(SETTINGS[setting].key, secret)

    @api.depends("company_id")
    def _compute_ai_quotation_share(self):
        """Stored as "True"/"False": an unticked box Odoo would store as
        nothing, which reads as the default, and some default to shared."""
        for variable in shareable():
            shared = read_setting(self.env, share_setting(variable))
            for settings in self:
                settings[f"ai_quotation_share_{variable}"] = shared

    def _inverse_ai_quotation_share(self):
        params = self.env["ir.config_parameter"].sudo()
        for settings in self:
            for variable in shareable():
                shared = settings[f"ai_quotation_share_{variable}"]
                params.set_param(SETTINGS[share_setting(variable)].key, str(shared))

    @api.depends("ai_quotation_audit_enabled")
    def _compute_ai_quotation_audit_status(self):
        entries = self.env["quotation.audit.entry"].sudo()
        pending = entries.search_count([("state", "=", "pending")])
        last_failed = entries.search(
            [("state", "=", "pending"), ("error", "!=", False)],
            order="write_date desc, id desc",
            limit=1,
        )
        for settings in self:
            settings.ai_quotation_audit_pending_count = pending
            settings.ai_quotation_audit_last_error = last_failed.error or False

    # ------------------------------------------------------------ constraints
    @api.constrains(
        "ai_quotation_max_attempts",
        "ai_quotation_backoff_seconds",
        "ai_quotation_rate_limit",
        "ai_quotation_rate_limit_user",
        "ai_quotation_mcp_streams_per_user",
        "ai_quotation_mcp_streams",
    )
    def _check_ai_quotation_limits(self):
        rate_limit = _("The rate limit must allow at least 1 request per minute.")
        streams = _("Stream limits must allow at least 1 stream.")
        self._check_setting_values(
            {
                "ai_quotation_max_attempts": _("Maximum attempts must be at least 1."),
                "ai_quotation_backoff_seconds": _(
                    "The retry delay cannot be negative."
                ),
                "ai_quotation_rate_limit": rate_limit,
                "ai_quotation_rate_limit_user": rate_limit,
                "ai_quotation_mcp_streams_per_user": streams,
                "ai_quotation_mcp_streams": streams,
            }
        )

    @api.constrains("ai_quotation_mcp_allowed_origins")
    def _check_ai_quotation_mcp_allowed_origins(self):
        parse = SETTINGS["mcp_allowed_origins"].parse
        for settings in self:
            for origin in parse(settings.ai_quotation_mcp_allowed_origins):
                if not ORIGIN_PATTERN.match(origin):
                    raise ValidationError(
                        _(
                            "%(origin)s is not an origin: write scheme and host, "
                            "such as https://app.example.com, without a path.",
                            origin=origin,
                        )
                    )

    @api.constrains("ai_quotation_audit_prefix", "ai_quotation_audit_s3_endpoint_url")
    def _check_ai_quotation_audit_settings(self):
        self._check_setting_values(
            {
                "ai_quotation_audit_prefix": _(
                    "The audit key prefix may hold at most 256 letters, digits "
                    "and - _ . / with no segment starting with a dot: for "
                    "example quotation-audit/production."
                )
            }
        )
        for settings in self:
            endpoint = settings.ai_quotation_audit_s3_endpoint_url
            if endpoint and not endpoint.strip().startswith(("http://", "https://")):
                raise ValidationError(
                    _(
                        "The S3 endpoint URL must start with http:// or https://, "
                        "for example http://minio:9000."
                    )
                )

    @api.constrains(
        "ai_quotation_oauth_access_minutes",
        "ai_quotation_oauth_refresh_days",
        "ai_quotation_oauth_redirect_allow_list",
    )
    def _check_ai_quotation_oauth_settings(self):
        lifetimes = _("OAuth token lifetimes must be at least 1 minute and 1 day.")
        self._check_setting_values(
            {
                "ai_quotation_oauth_access_minutes": lifetimes,
                "ai_quotation_oauth_refresh_days": lifetimes,
                "ai_quotation_oauth_redirect_allow_list": None,
            }
        )

    def _check_setting_values(self, messages):
        """Refuse a value its setting's parser refuses, with ``messages[field]``
        (None: the parser's own message)."""
        by_key = {setting.key: setting for setting in SETTINGS.values()}
        for settings in self:
            for name, message in messages.items():
                setting = by_key[self._fields[name].config_parameter]
                try:
                    setting.parse(settings[name])
                except ValueError as error:
                    raise ValidationError(message or str(error)) from None

    # ------------------------------------------------------------ CRUD
    def set_values(self):
        parse = SETTINGS["mcp_allowed_origins"].parse
        self.ai_quotation_mcp_allowed_origins = (
            ",".join(parse(self.ai_quotation_mcp_allowed_origins)) or False
        )
        return super().set_values()

    # ------------------------------------------------------------ actions
    def action_open_my_api_keys(self):
        """Open my preferences, where Account Security creates API keys."""
        action = self.env["res.users"].action_get()
        action["res_id"] = self.env.uid
        return action

    def action_new_ai_agent_key(self):
        """A key of my own that reaches AI agents only."""
        return self.env.user.action_new_ai_agent_key()

    def action_ai_quotation_audit_test_connection(self):
        """Write a small probe document where the audit log would go."""
        self.ensure_one()
        prefix = SETTINGS["audit_prefix"].parse(self.ai_quotation_audit_prefix)
        key = object_key(prefix, "_connection_test.json")
        probe = {
            "schema_version": SCHEMA_VERSION,
            "event": "connection_test",
            "occurred_at": fields.Datetime.now().isoformat() + "Z",
            "database": self.env.cr.dbname,
            "actor": {"id": self.env.user.id, "login": self.env.user.login},
        }
        try:
            destinations = build_destinations(self._ai_quotation_audit_config())
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

    # ------------------------------------------------------------ business methods
    def _ai_quotation_audit_config(self):
        """The destination settings as typed in the form, saved or not."""
        self.ensure_one()
        text = SETTINGS["audit_s3_bucket"].parse
        return {
            "s3_bucket": text(self.ai_quotation_audit_s3_bucket),
            "s3_region": text(self.ai_quotation_audit_s3_region),
            "s3_endpoint_url": text(self.ai_quotation_audit_s3_endpoint_url),
            "s3_access_key_id": text(self.ai_quotation_audit_s3_access_key_id),
            "s3_secret_access_key": text(self.ai_quotation_audit_s3_secret_access_key),
            "local_directory": text(self.ai_quotation_audit_local_directory),
            "concurrency": read_setting(self.env, "audit_concurrency"),
        }
