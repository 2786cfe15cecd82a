from odoo.tests import HttpCase, new_test_user, tagged

from ..services.quotation_service import QuotationService
from . import elevenlabs_payloads as payloads
from .common import quotation_payload

SECRET_PARAM = "odoo_mcp_quotation.elevenlabs_webhook_secret"


@tagged("post_install", "-at_install")
class TestElevenlabsCallTour(HttpCase):
    """A salesperson reads a call, hears it, and follows it to the opportunity."""

    def test_tour_call_and_opportunity(self):
        self.env["ir.config_parameter"].set_param(SECRET_PARAM, payloads.SECRET)
        self.env["product.product"].create(
            {"name": "Tour Desk", "default_code": "DESK-STD", "list_price": 520}
        )
        agent = new_test_user(
            self.env, login="omq_call_agent", groups="sales_team.group_sale_salesman"
        )
        self.env["res.lang"]._activate_lang("en_US")  # the tour reads English
        new_test_user(
            self.env,
            login="omq_call_seller",
            password="omq_call_seller",
            groups="sales_team.group_sale_salesman",
            lang="en_US",
        )
        QuotationService(self.env(user=agent)).submit(
            quotation_payload(
                customer_name="Tour Caller",
                email="tour.caller@example.com",
                lines=[{"product": "DESK-STD", "quantity": 2}],
                conversation_id="conv_tour_01",
            ),
            "rest",
        )
        self.env["quotation.task"]._process_due()
        for body in (
            payloads.transcription("conv_tour_01"),
            payloads.audio("conv_tour_01"),
        ):
            raw, headers = payloads.signed(body)
            response = self.url_open(
                "/api/elevenlabs/post-call", data=raw, headers=headers
            )
            self.assertEqual(response.status_code, 200, response.text)
        self.env["elevenlabs.webhook.delivery"]._process_due()
        self.start_tour(
            "/odoo", "odoo_mcp_quotation_call_tour", login="omq_call_seller"
        )
