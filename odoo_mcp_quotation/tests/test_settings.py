from odoo.tests import TransactionCase, tagged

from ..lib.settings import SETTINGS, read_setting

# the keys databases of 18.0.1.0.0 hold their values under: renaming one needs
# a migration script
KEYS_OF_18_0_1_0_0 = {
    "odoo_mcp_quotation.team_id",
    "odoo_mcp_quotation.user_id",
    "odoo_mcp_quotation.pricelist_id",
    "odoo_mcp_quotation.send_quotation_email",
    "odoo_mcp_quotation.max_attempts",
    "odoo_mcp_quotation.backoff_seconds",
    "odoo_mcp_quotation.backoff_max_seconds",
    "odoo_mcp_quotation.lease_seconds",
    "odoo_mcp_quotation.batch_size",
    "odoo_mcp_quotation.build_when_idle",
    "odoo_mcp_quotation.rate_limit_per_minute",
    "odoo_mcp_quotation.rate_limit_per_user_per_minute",
    "odoo_mcp_quotation.mcp_streams_per_user",
    "odoo_mcp_quotation.mcp_streams",
    "odoo_mcp_quotation.mcp_allowed_origins",
    "odoo_mcp_quotation.audit_enabled",
    "odoo_mcp_quotation.audit_prefix",
    "odoo_mcp_quotation.audit_s3_bucket",
    "odoo_mcp_quotation.audit_s3_region",
    "odoo_mcp_quotation.audit_s3_endpoint_url",
    "odoo_mcp_quotation.audit_s3_access_key_id",
    "odoo_mcp_quotation.audit_s3_secret_access_key",
    "odoo_mcp_quotation.audit_local_directory",
    "odoo_mcp_quotation.audit_batch_size",
    "odoo_mcp_quotation.audit_concurrency",
    "odoo_mcp_quotation.audit_backoff_seconds",
    "odoo_mcp_quotation.audit_backoff_max_seconds",
    "odoo_mcp_quotation.audit_retention_days",
    "odoo_mcp_quotation.oauth_enabled",
    "odoo_mcp_quotation.oauth_access_token_minutes",
    "odoo_mcp_quotation.oauth_refresh_token_days",
    "odoo_mcp_quotation.oauth_registrations_per_minute",
    "odoo_mcp_quotation.oauth_redirect_allow_list",
    "odoo_mcp_quotation.elevenlabs_webhook_secret",
    "odoo_mcp_quotation.elevenlabs_delivery_retention_days",
}
# keys added since, with defaults that apply to databases that lack them
KEYS_ADDED_SINCE = {
    "odoo_mcp_quotation.oauth_registrations_per_minute_total",
    "odoo_mcp_quotation.oauth_metadata_fetches_per_user_per_minute",
    # the conversation initiation webhook: its secret, one switch per variable
    "odoo_mcp_quotation.elevenlabs_init_secret",
    "odoo_mcp_quotation.conversation_init_share_customer_name",
    "odoo_mcp_quotation.conversation_init_share_customer_company",
    "odoo_mcp_quotation.conversation_init_share_customer_email",
    "odoo_mcp_quotation.conversation_init_share_customer_language",
    "odoo_mcp_quotation.conversation_init_share_salesperson",
    "odoo_mcp_quotation.conversation_init_share_last_quotations",
    "odoo_mcp_quotation.conversation_init_share_open_quotations",
    # unset in older databases: their calls wait in triage until it is set
    "odoo_mcp_quotation.elevenlabs_user_id",
}


@tagged("post_install", "-at_install")
class TestSettingsRegistry(TransactionCase):
    def _store(self, name, value):
        self.env["ir.config_parameter"].set_param(SETTINGS[name].key, value)

    def test_keys_are_those_databases_already_hold(self):
        self.assertEqual(
            {setting.key for setting in SETTINGS.values()},
            KEYS_OF_18_0_1_0_0 | KEYS_ADDED_SINCE,
        )

    def test_stored_values_are_parsed_once_for_every_reader(self):
        values = {
            "team_id": (" 12 ", 12),
            "send_quotation_email": ("True", True),
            "max_attempts": ("7", 7),
            "mcp_allowed_origins": (
                " https://app.example.com/ ,,http://localhost:6274",
                ["https://app.example.com", "http://localhost:6274"],
            ),
            "audit_enabled": ("False", False),
            "audit_prefix": (" prod//quotations/ ", "prod/quotations"),
            "audit_s3_bucket": ("  bucket ", "bucket"),
            "oauth_redirect_allow_list": (
                "https://a.example/cb,\nhttp://127.0.0.1:*",
                ["https://a.example/cb", "http://127.0.0.1:*"],
            ),
        }
        for name, (stored, value) in values.items():
            with self.subTest(name):
                self._store(name, stored)
                self.assertEqual(read_setting(self.env, name), value)
        self.assertEqual(self.env["quotation.task"]._queue_setting("max_attempts"), 7)
        self.assertEqual(
            self.env["quotation.audit.entry"]._key_prefix(), "prod/quotations"
        )

    def test_unset_or_unusable_values_read_as_the_default(self):
        unusable = {
            "max_attempts": ["0", "-3", "five", "2.5"],
            "backoff_seconds": ["-1"],
            "rate_limit_per_minute": ["0"],
            "mcp_streams": ["many"],
            "audit_prefix": ["../etc", "a b"],
            "audit_retention_days": ["-1"],
            "oauth_access_token_minutes": ["0"],
            "oauth_redirect_allow_list": ["not a uri"],
        }
        for name, stored_values in unusable.items():
            setting = SETTINGS[name]
            default = setting.parse(setting.default)
            with self.subTest(name, stored=False):
                self._store(name, False)
                self.assertEqual(read_setting(self.env, name), default)
            for stored in stored_values:
                with (
                    self.subTest(name, stored=stored),
                    self.assertLogs("odoo.addons.odoo_mcp_quotation", "WARNING"),
                ):
                    self._store(name, stored)
                    self.assertEqual(read_setting(self.env, name), default)
