from odoo.exceptions import ValidationError
from odoo.tests import TransactionCase, tagged

from ..lib.settings import SETTINGS, read_setting


@tagged("post_install", "-at_install")
class TestAIQuotationSettings(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, lang="en_US"))

    def _param(self, key):
        return self.env["ir.config_parameter"].get_param(SETTINGS[key].key)

    def _save(self, **values):
        self.env["res.config.settings"].create(values).execute()

    def test_settings_are_saved_where_the_engine_reads_them(self):
        team = self.env["crm.team"].create({"name": "AI Desk"})
        salesperson = self.env.ref("base.user_admin")
        pricelist = self.env["product.pricelist"].create({"name": "AI Prices"})
        self._save(
            ai_quotation_team_id=team.id,
            ai_quotation_user_id=salesperson.id,
            ai_quotation_pricelist_id=pricelist.id,
            ai_quotation_send_email=True,
            ai_quotation_max_attempts=7,
            ai_quotation_backoff_seconds=30,
            ai_quotation_rate_limit=120,
            ai_quotation_mcp_allowed_origins=(
                " https://app.example.com/ ,http://localhost:6274,"
            ),
        )
        self.assertEqual(self._param("team_id"), str(team.id))
        self.assertEqual(self._param("user_id"), str(salesperson.id))
        self.assertEqual(self._param("pricelist_id"), str(pricelist.id))
        self.assertEqual(self._param("send_quotation_email"), "True")
        self.assertEqual(self._param("max_attempts"), "7")
        self.assertEqual(self._param("backoff_seconds"), "30")
        self.assertEqual(self._param("rate_limit_per_minute"), "120")
        self.assertEqual(
            self._param("mcp_allowed_origins"),
            "https://app.example.com,http://localhost:6274",
        )
        self.assertEqual(self.env["quotation.task"]._queue_setting("max_attempts"), 7)
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(settings.ai_quotation_team_id, team)
        self.assertEqual(settings.ai_quotation_rate_limit, 120)

    def test_defaults_match_the_engine(self):
        keys = [setting.key for setting in SETTINGS.values()]
        self.env["ir.config_parameter"].search([("key", "in", keys)]).unlink()
        settings = self.env["res.config.settings"].create({})
        by_key = {setting.key: setting for setting in SETTINGS.values()}
        fields_shown = [
            field
            for field in settings._fields.values()
            if getattr(field, "config_parameter", None) in by_key
        ]
        self.assertEqual(len(fields_shown), 24, "every setting of the form")
        for field in fields_shown:
            setting = by_key[field.config_parameter]
            shown = settings[field.name]
            shown = shown.id or False if field.type == "many2one" else shown
            with self.subTest(field=field.name):
                self.assertEqual(
                    setting.parse(shown), read_setting(self.env, setting.name)
                )
                self.assertEqual(shown or False, setting.default or False)
        self.assertEqual(self.env["quotation.task"]._queue_setting("max_attempts"), 5)
        self.assertEqual(settings.ai_quotation_max_attempts, 5)
        self.assertEqual(settings.ai_quotation_backoff_seconds, 10)
        self.assertEqual(settings.ai_quotation_rate_limit, 300)
        self.assertEqual(settings.ai_quotation_rate_limit_user, 600)
        self.assertEqual(settings.ai_quotation_mcp_streams_per_user, 5)
        self.assertEqual(settings.ai_quotation_mcp_streams, 50)
        self.assertFalse(settings.ai_quotation_send_email)

    def test_bad_values_are_refused_and_change_nothing(self):
        self._save(ai_quotation_max_attempts=4, ai_quotation_mcp_allowed_origins="")
        bad_values = [
            ({"ai_quotation_max_attempts": 0}, "at least 1"),
            ({"ai_quotation_backoff_seconds": -5}, "cannot be negative"),
            ({"ai_quotation_rate_limit": 0}, "at least 1 request"),
            ({"ai_quotation_rate_limit_user": 0}, "at least 1 request"),
            ({"ai_quotation_mcp_streams": 0}, "at least 1 stream"),
            (
                {"ai_quotation_mcp_allowed_origins": "https://ok.example.com, *"},
                r"\* is not an origin",
            ),
            (
                {"ai_quotation_mcp_allowed_origins": "https://app.example.com/mcp"},
                "without a path",
            ),
        ]
        for values, message in bad_values:
            with (
                self.subTest(values=values),
                self.assertRaisesRegex(ValidationError, message),
            ):
                self._save(**values)
        self.assertEqual(self._param("max_attempts"), "4")
        self.assertFalse(self._param("mcp_allowed_origins"))

    def test_api_key_link_opens_my_preferences(self):
        action = self.env["res.config.settings"].create({}).action_open_my_api_keys()
        self.assertEqual(action["res_model"], "res.users")
        self.assertEqual(action["res_id"], self.env.uid)
        self.assertEqual(action["target"], "new")
