import json

from odoo.tests import HttpCase, new_test_user, tagged

from ..lib.query_schema import QuotationSent, output_schema
from ..lib.request_schema import SendQuotationRequest, inline_json_schema
from ..services.quotation_service import QuotationService
from .common import SALESMAN, TestUsersMixin, api_key, quotation_payload
from .mcp_messages import ASKING_CLIENT_META
from .smtp_server import MailServerMixin

PROTOCOL = {"MCP-Protocol-Version": "2025-11-25"}


@tagged("post_install", "-at_install")
class TestSendQuotationHttp(MailServerMixin, TestUsersMixin, HttpCase):
    """send_quotation through REST and MCP, behind its own scope."""

    test_users = {
        "agent": {
            "login": "omq_send_agent",
            "groups": f"{SALESMAN},base.group_user",
            "ai_agent_scopes": "quotations:create quotations:send",
        },
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = api_key(cls.agent)
        cls.env["product.product"].create(
            [
                {"name": "Standing Desk", "default_code": "OMQ-DESK"},
                {"name": "Ergonomic Chair", "list_price": 120},
            ]
        )

    def setUp(self):
        super().setUp()
        service = QuotationService(self.env(user=self.agent))
        self.task = service.submit(quotation_payload(), "rest").sudo()
        self.env["quotation.task"]._process_due()
        self.order = self.task.sale_order_id

    def emails(self):
        return self.env["mail.notification"].search_count(
            [
                ("mail_message_id", "in", self.order.message_ids.ids),
                ("res_partner_id", "=", self.order.partner_id.id),
                ("notification_type", "=", "email"),
            ]
        )

    def rest(self, reference, body, key=None):
        return self.url_open(
            f"/api/quotation/{reference}/send",
            data=json.dumps(body),
            headers={
                "Authorization": f"Bearer {key or self.key}",
                "Content-Type": "application/json",
            },
        )

    def mcp(self, method, params, key=None):
        message = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        return self.url_open(
            "/mcp",
            data=json.dumps(message),
            headers={
                "Authorization": f"Bearer {key or self.key}",
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
                **PROTOCOL,
            },
        ).json()

    def test_a_client_that_can_be_asked_is_asked_whatever_confirm_says(self):
        """The person confirms, not the model: declined, nothing is sent."""
        params = {
            "name": "send_quotation",
            "arguments": {"quotation": self.order.name, "confirm": True},
            "_meta": ASKING_CLIENT_META,
        }

        def call(responses=None):
            if responses:
                params["inputResponses"] = responses
            return self.url_open(
                "/mcp",
                data=json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "id": 1,
                        "method": "tools/call",
                        "params": params,
                    }
                ),
                headers={
                    "Authorization": f"Bearer {self.key}",
                    "Content-Type": "application/json",
                    "Accept": "application/json, text/event-stream",
                    "MCP-Protocol-Version": "2026-07-28",
                    "Mcp-Method": "tools/call",
                    "Mcp-Name": "send_quotation",
                },
            ).json()["result"]

        asked = call()
        self.assertEqual(asked["resultType"], "input_required", asked)
        self.assertIn(
            self.order.name, asked["inputRequests"]["confirm"]["params"]["message"]
        )
        self.assertEqual(self.emails(), 0)
        declined = call({"confirm": {"action": "decline"}})
        self.assertTrue(declined["isError"], declined)
        self.assertEqual(self.emails(), 0)
        accepted = call({"confirm": {"action": "accept", "content": {"confirm": True}}})
        self.assertFalse(accepted.get("isError"), accepted)
        self.assertEqual(accepted["structuredContent"]["email"], "sent")
        self.assertEqual(self.emails(), 1)

    def test_rest_sends_when_confirmed(self):
        refused = self.rest(self.order.name, {})
        self.assertEqual(refused.status_code, 400, refused.text)
        self.assertIn("confirm", refused.json()["message"])
        self.assertEqual(self.emails(), 0)
        for loose in ("yes", "true", 1):  # a confirmation is true, nothing like it
            refused = self.rest(self.order.name, {"confirm": loose})
            self.assertEqual(refused.status_code, 422, (loose, refused.text))
        self.assertEqual(self.emails(), 0)
        response = self.rest(self.order.name, {"confirm": True})
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json()["email"], "sent")
        self.assertEqual(self.emails(), 1)
        self.assertEqual(self.order.state, "sent")
        unknown = self.rest("S99999", {"confirm": True})
        self.assertEqual(unknown.status_code, 404, unknown.text)

    def test_rest_refuses_others_and_confirmed_quotations(self):
        """Another agent's quotation does not exist for them; a confirmed one
        may no longer be e-mailed: either way nothing is sent or queued."""
        other = new_test_user(
            self.env,
            login="omq_send_other_agent",
            groups=f"{SALESMAN},base.group_user",
            ai_agent_scopes="quotations:create quotations:send",
        )
        response = self.rest(self.order.name, {"confirm": True}, key=api_key(other))
        self.assertEqual(response.status_code, 404, response.text)
        self.assertNotIn(self.order.partner_id.name, response.text)
        self.order.state = "sale"
        response = self.rest(self.order.name, {"confirm": True})
        self.assertEqual(response.status_code, 400, response.text)
        self.assertIn("Nothing was sent", response.json()["message"])
        self.assertEqual(self.emails(), 0)
        self.assertFalse(
            self.env["quotation.send"].search([("order_id", "=", self.order.id)])
        )

    def test_keys_made_before_keep_what_they_had(self):
        voice = new_test_user(
            self.env,
            login="omq_send_voice",
            groups=f"{SALESMAN},base.group_user",
        )
        self.assertEqual(voice.ai_agent_scopes, "quotations:create")
        key = api_key(voice)
        response = self.rest(self.order.name, {"confirm": True}, key=key)
        self.assertEqual(response.status_code, 403, response.text)
        self.assertIn('scope="quotations:send"', response.headers["WWW-Authenticate"])
        tools = self.mcp("tools/list", {}, key=key)["result"]["tools"]
        self.assertNotIn("send_quotation", [tool["name"] for tool in tools])
        self.assertEqual(self.emails(), 0)

    def test_mcp_tool_is_annotated_and_needs_confirm(self):
        tools = {
            tool["name"]: tool for tool in self.mcp("tools/list", {})["result"]["tools"]
        }
        send = tools["send_quotation"]
        self.assertFalse(send["annotations"]["readOnlyHint"])
        self.assertFalse(send["annotations"]["idempotentHint"])
        self.assertEqual(send["inputSchema"], inline_json_schema(SendQuotationRequest))
        self.assertEqual(send["outputSchema"], output_schema(QuotationSent))
        call = {"name": "send_quotation", "arguments": {"quotation": self.order.name}}
        refused = self.mcp("tools/call", call)["result"]
        self.assertTrue(refused["isError"])
        self.assertIn("confirm", refused["content"][0]["text"])
        self.assertEqual(self.emails(), 0)
        call["arguments"]["confirm"] = True
        result = self.mcp("tools/call", call)["result"]
        self.assertFalse(result["isError"], result)
        self.assertEqual(result["structuredContent"]["email"], "sent")
        self.assertEqual(self.emails(), 1)
