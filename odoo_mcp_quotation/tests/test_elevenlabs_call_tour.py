from odoo.tests import tagged

from . import elevenlabs_payloads as payloads
from .common import TourCase, quotation_payload

SECRET_PARAM = "odoo_mcp_quotation.elevenlabs_webhook_secret"
VOICE_USER_PARAM = "odoo_mcp_quotation.elevenlabs_user_id"


@tagged("post_install", "-at_install")
class TestElevenlabsCallTour(TourCase):
    """A salesperson reads a call, hears it, and follows it to the opportunity."""

    def test_tour_call_and_opportunity(self):
        self.env["ir.config_parameter"].set_param(SECRET_PARAM, payloads.SECRET)
        service = self.tour_service("call", "DESK-STD", 520)
        # the voice agent's user: the call joins its quotation request
        self.env["ir.config_parameter"].set_param(VOICE_USER_PARAM, service.env.uid)
        service.submit(
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
        self.start_seller_tour("call", "odoo_mcp_quotation_call_tour")
