import json

from odoo.tests import Form, HttpCase, new_test_user, tagged

from ..lib.conversation_init import (
    ANSWER_TYPE,
    PATH,
    SECRET_HEADER,
    CallerVariables,
    share_setting,
    shareable,
)
from ..lib.settings import SETTINGS

SECRET = "init-secret-4f1d9c2a7b"
VARIABLES = set(CallerVariables.model_fields)


def share_key(variable):
    return SETTINGS[share_setting(variable)].key


@tagged("post_install", "-at_install")
class TestConversationInit(HttpCase):
    """The webhook over HTTP, with the body and headers ElevenLabs sends for a
    Twilio call."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, lang="en_US"))
        params = cls.env["ir.config_parameter"]
        params.set_param(SETTINGS["elevenlabs_init_secret"].key, SECRET)
        for variable in shareable():
            params.set_param(share_key(variable), "True")
        cls.env["res.lang"]._activate_lang("es_ES")
        cls.env.company.country_id = cls.env.ref("base.es")
        seller = new_test_user(
            cls.env,
            login="omq_init_seller",
            name="Marta Ruiz",
            groups="sales_team.group_sale_salesman",
        )
        company = cls.env["res.partner"].create(
            {"name": "Fernández Interiores", "is_company": True}
        )
        cls.ana = cls.env["res.partner"].create(
            {
                "name": "Ana García",
                "parent_id": company.id,
                "email": "ana@fernandez.example",
                "phone": "+34 611 222 333",
                "lang": "es_ES",
                "user_id": seller.id,
            }
        )
        cls.john = cls.env["res.partner"].create(
            {"name": "John Smith", "phone": "+1 (650) 253-0134", "lang": "en_US"}
        )
        desk = cls.env["product.product"].create(
            {"name": "Standing Desk", "list_price": 500, "taxes_id": [(6, 0, [])]}
        )
        orders = cls.env["sale.order"]
        for day, state in enumerate(("sale", "cancel", "sent", "draft"), start=1):
            order = orders.create(
                {
                    "partner_id": cls.ana.id,
                    "date_order": f"2026-11-0{day} 10:00:00",
                    "order_line": [
                        (0, 0, {"product_id": desk.id, "product_uom_qty": day})
                    ],
                }
            )
            order.state = state
            orders |= order
        cls.orders = orders

    def initiate(self, caller_id="+34611222333", *, secret=SECRET, raw=None):
        body = {
            "caller_id": caller_id,
            "agent_id": "agent_8201k2x9y3z4",
            "called_number": "+34910000000",
            "call_sid": "CA5f3e9b1d2c4a6e8f0a1b2c3d4e5f6a7b",
        }
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        return self.opener.post(
            self.base_url() + PATH,
            data=raw if raw is not None else json.dumps(body),
            headers=headers,
            timeout=20,
        )

    def variables(self, caller_id="+34611222333"):
        response = self.initiate(caller_id)
        self.assertEqual(response.status_code, 200, response.text)
        answer = response.json()
        self.assertEqual(answer["type"], ANSWER_TYPE)
        self.assertEqual(set(answer["dynamic_variables"]), VARIABLES)
        return answer

    def assert_refused(self, response, status, code):
        self.assertEqual(response.status_code, status, response.text)
        error = response.json()["error"]
        self.assertEqual(error["code"], code)
        self.assertTrue(error["message"])
        self.assertNotIn(SECRET, response.text)
        return error

    # ------------------------------------------------------------ known, unknown
    def test_a_known_caller_is_greeted_in_their_language(self):
        answer = self.variables("+34 611 22 23 33")
        sent, draft = self.orders[2], self.orders[3]
        currency = draft.currency_id.name
        self.assertEqual(
            answer["dynamic_variables"],
            {
                "customer_known": True,
                "customer_name": "Ana García",
                "customer_company": "Fernández Interiores",
                "customer_email": "ana@fernandez.example",
                "customer_language": "es",
                "salesperson": "Marta Ruiz",
                "last_quotations": (
                    f"{draft.name}, Quotation, 2000.00 {currency}, 2026-11-04; "
                    f"{sent.name}, Quotation Sent, 1500.00 {currency}, 2026-11-03; "
                    f"{self.orders[1].name}, Cancelled, 1000.00 {currency}, 2026-11-02"
                ),
                "open_quotations": (
                    f"{draft.name}, Quotation, 2000.00 {currency}, 2026-11-04; "
                    f"{sent.name}, Quotation Sent, 1500.00 {currency}, 2026-11-03"
                ),
            },
        )
        agent = answer["conversation_config_override"]["agent"]
        self.assertEqual(agent["language"], "es")
        self.assertEqual(
            agent["first_message"],
            "Hola Ana García, gracias por llamar de nuevo. ¿En qué puedo ayudarle hoy?",
        )

    def test_an_english_customer_hears_english(self):
        answer = self.variables("+16502530134")
        self.assertEqual(answer["dynamic_variables"]["customer_name"], "John Smith")
        self.assertEqual(answer["dynamic_variables"]["last_quotations"], "")
        agent = answer["conversation_config_override"]["agent"]
        self.assertEqual(agent["language"], "en")
        self.assertTrue(agent["first_message"].startswith("Hello John Smith,"))

    def test_a_company_calling_is_its_own_company(self):
        self.env["res.partner"].create(
            {"name": "Muebles Sol", "is_company": True, "phone": "+34 622 000 111"}
        )
        variables = self.variables("+34622000111")["dynamic_variables"]
        self.assertEqual(variables["customer_name"], "Muebles Sol")
        self.assertEqual(variables["customer_company"], "Muebles Sol")

    def test_an_unknown_caller_gets_the_same_variables_empty(self):
        for caller in ("+34699000111", "anonymous", ""):
            answer = self.variables(caller)
            self.assertEqual(
                answer["dynamic_variables"],
                {name: False if name == "customer_known" else "" for name in VARIABLES},
            )
            self.assertNotIn("conversation_config_override", answer)

    def test_an_archived_contact_is_unknown(self):
        self.john.active = False
        answer = self.variables("+16502530134")
        self.assertFalse(answer["dynamic_variables"]["customer_known"])

    def test_a_number_without_prefix_is_in_the_company_country(self):
        answer = self.variables("611 22 23 33")
        self.assertEqual(answer["dynamic_variables"]["customer_name"], "Ana García")

    # ------------------------------------------------------------ settings
    def test_each_variable_switched_off_is_answered_empty(self):
        params = self.env["ir.config_parameter"]
        everything = self.variables()["dynamic_variables"]
        for variable in shareable():
            with self.subTest(variable=variable):
                params.set_param(share_key(variable), "False")
                shared = self.variables()["dynamic_variables"]
                params.set_param(share_key(variable), "True")
                self.assertEqual(shared, {**everything, variable: ""})

    def test_personal_data_is_not_shared_until_enabled(self):
        params = self.env["ir.config_parameter"]
        for variable in shareable():
            params.set_param(share_key(variable), False)  # never set
        answer = self.variables()
        variables = answer["dynamic_variables"]
        self.assertEqual(
            (variables["customer_name"], variables["customer_email"]), ("", "")
        )
        self.assertEqual(variables["customer_company"], "Fernández Interiores")
        self.assertTrue(variables["open_quotations"])
        # nor said in the greeting
        self.assertEqual(
            answer["conversation_config_override"]["agent"]["first_message"],
            "Hola, gracias por llamar de nuevo. ¿En qué puedo ayudarle hoy?",
        )

    def test_the_settings_form_switches_variables_and_keeps_the_secret(self):
        with Form(self.env["res.config.settings"]) as settings:
            self.assertTrue(settings.ai_quotation_init_secret_set)
            self.assertFalse(settings.ai_quotation_init_secret)
            self.assertTrue(settings.ai_quotation_share_salesperson)
            settings.ai_quotation_share_salesperson = False
            settings.ai_quotation_init_secret = "replaced-secret"
        answer = self.initiate(secret="replaced-secret").json()
        self.assertEqual(answer["dynamic_variables"]["salesperson"], "")
        self.assert_refused(self.initiate(), 401, "unauthenticated")

    # ------------------------------------------------------------ refused
    def test_a_bad_or_missing_secret_is_refused_before_the_body_is_read(self):
        for secret in (None, "", "init-secret-4f1d9c2a7", SECRET + "x", SECRET.upper()):
            with self.subTest(secret=secret):
                # a body that would be a 400 if it were read
                self.assert_refused(
                    self.initiate(secret=secret, raw="{not json"),
                    401,
                    "unauthenticated",
                )
        self.assert_refused(self.initiate(secret=None), 401, "unauthenticated")

    def test_no_secret_set_refuses_everyone(self):
        self.env["ir.config_parameter"].set_param(
            SETTINGS["elevenlabs_init_secret"].key, False
        )
        self.assert_refused(self.initiate(secret=""), 401, "unauthenticated")
        self.assert_refused(self.initiate(), 401, "unauthenticated")

    def test_a_malformed_number_is_a_clear_422(self):
        for caller in (
            "+34 ABC 222",
            "12",
            "+" + "9" * 16,
            "++34611222333",
            "<script>",
        ):
            with self.subTest(caller=caller):
                error = self.assert_refused(
                    self.initiate(caller), 422, "invalid_payload"
                )
                self.assertIn("caller_id", error["message"])
        error = self.assert_refused(self.initiate(611222333), 422, "invalid_payload")
        self.assertIn("caller_id", error["message"])

    def test_a_number_odoo_cannot_place_is_a_clear_422(self):
        error = self.assert_refused(
            self.initiate("+999 1234567"), 422, "invalid_caller_id"
        )
        self.assertIn("Unable to parse +999 1234567", error["message"])

    def test_a_bad_body_is_a_4xx(self):
        self.assert_refused(self.initiate(raw="{not json"), 400, "malformed_json")
        self.assert_refused(self.initiate(raw="[1, 2]"), 422, "invalid_payload")
        big = json.dumps({"caller_id": "+34611222333", "pad": "x" * 20000})
        self.assert_refused(self.initiate(raw=big), 413, "payload_too_large")
