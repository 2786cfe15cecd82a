"""An agent changes its own draft quotation, over REST and over MCP."""

import json

from odoo.tests import HttpCase, new_test_user, tagged

from ..lib import scopes
from ..services.quotation_service import QuotationService
from .common import SALESMAN, TestUsersMixin, api_key, oauth_token
from .mcp_messages import ASKING_CLIENT_META as MODERN
from .mcp_messages import initialize_message
from .smtp_server import MailServerMixin

SCOPES = "quotations:create quotations:read quotations:update quotations:send"


@tagged("post_install", "-at_install")
class TestQuotationUpdate(MailServerMixin, TestUsersMixin, HttpCase):
    test_users = {
        "agent": {
            "login": "omq_upd_agent",
            "name": "Update Agent",
            "groups": SALESMAN,
            "ai_agent_scopes": SCOPES,
        },
        "other": {
            "login": "omq_upd_other",
            "groups": SALESMAN,
            "ai_agent_scopes": SCOPES,
        },
        "seller": {"login": "omq_upd_seller", "name": "Sam Seller", "groups": SALESMAN},
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # named as their owner names them: the chatter says which agent changed it
        cls.key = api_key(cls.agent, "ElevenLabs voice agent")
        cls.mcp_key = api_key(cls.agent, "Claude Desktop")
        cls.other_key = api_key(cls.other)
        Product = cls.env["product.product"]
        cls.desk, cls.lamp, cls.oak, cls.pine = Product.create(
            [
                {"name": "Upd Desk", "default_code": "UPD-DESK", "list_price": 300},
                {"name": "Upd Lamp", "default_code": "UPD-LAMP", "list_price": 40},
                {"name": "Upd Chair Oak", "default_code": "UPD-OAK", "list_price": 90},
                {
                    "name": "Upd Chair Pine",
                    "default_code": "UPD-PINE",
                    "list_price": 70,
                },
            ]
        )

    def setUp(self):
        super().setUp()
        self.order = self.quotation_of(self.agent)

    def quotation_of(self, user):
        """A quotation ``user``'s agent asked for and Odoo built: 2 desks, 1 lamp."""
        task = QuotationService(self.env(user=user)).submit(
            {
                "customer_name": "Rosa Update",
                "email": "rosa.update@example.com",
                "lines": [
                    {"product": "UPD-DESK", "quantity": 2},
                    {"product": "UPD-LAMP", "quantity": 1},
                ],
            },
            "rest",
        )
        self.env["quotation.task"]._process_due()
        order = task.with_env(self.env).sale_order_id
        self.assertTrue(order, task.with_env(self.env).error)
        return order

    def lines(self, order=None):
        return {
            line.product_id.default_code: line.product_uom_qty
            for line in (order or self.order).order_line
        }

    def notes(self, order=None):
        return (order or self.order).message_ids.filtered(
            lambda message: "changed this quotation" in (message.body or "")
        )

    # ------------------------------------------------------------------ REST
    def rest(self, reference, body, key=None, headers=None):
        return self.opener.post(
            f"{self.base_url()}/api/quotation/{reference}/update",
            data=json.dumps(body),
            headers={
                "Authorization": f"Bearer {key or self.key}",
                "Content-Type": "application/json",
                **(headers or {}),
            },
            timeout=20,
        )

    def test_rest_changes_a_quantity_adds_and_removes_lines(self):
        response = self.rest(
            self.order.name,
            {
                "lines": [
                    {"product": "UPD-DESK", "quantity": 3},
                    {"product": "Upd Chair Oak", "quantity": 4},
                    {"product": "UPD-LAMP", "quantity": 0},
                ]
            },
        )
        self.assertEqual(response.status_code, 200, response.text)
        body = response.json()
        self.assertEqual(self.lines(), {"UPD-DESK": 3.0, "UPD-OAK": 4.0})
        self.assertAlmostEqual(body["amount_untaxed"], 3 * 300 + 4 * 90)
        self.assertIn(self.order.name, body["message"])
        self.assertEqual(
            [
                (c["product"], c["quantity_before"], c["quantity_after"])
                for c in body["changes"]
            ],
            [
                ("[UPD-DESK] Upd Desk", 2.0, 3.0),
                ("[UPD-OAK] Upd Chair Oak", 0.0, 4.0),
                ("[UPD-LAMP] Upd Lamp", 1.0, 0.0),
            ],
        )
        note = self.notes()
        self.assertEqual(len(note), 1)
        self.assertIn(
            "Update Agent changed this quotation through ElevenLabs voice agent "
            "(REST API):",
            note.body,
        )
        self.assertIn("[UPD-LAMP] Upd Lamp: 1.0 → 0.0", note.body)
        self.assertEqual(note.author_id, self.agent.partner_id)
        change = self.env["quotation.task.change"].search(
            [("sale_order_id", "=", self.order.id)]
        )
        self.assertEqual(
            (change.channel, change.client_name, change.requested_by_id),
            ("rest", "ElevenLabs voice agent", self.agent),
        )

    def test_the_audit_log_records_who_changed_what(self):
        self.env["ir.config_parameter"].sudo().set_param(
            "odoo_mcp_quotation.audit_enabled", "True"
        )
        task = self.env["quotation.task"].search(
            [("sale_order_id", "=", self.order.id)]
        )
        body = {"lines": [{"product": "UPD-DESK", "quantity": 4}]}
        response = self.rest(self.order.name, body, headers={"Idempotency-Key": "k-1"})
        self.assertEqual(response.status_code, 200, response.text)
        entry = self.env["quotation.audit.entry"].search(
            [("tracking_id", "=", task.tracking_id), ("event", "=", "updated")]
        )
        self.assertEqual(len(entry), 1)
        self.assertTrue(entry.key.endswith(f"/{task.tracking_id}/updated-1.json"))
        document = json.loads(entry.document)
        self.assertEqual(document["actor"]["login"], "omq_upd_agent")
        self.assertEqual(
            (document["channel"], document["client"], document["idempotency_key"]),
            ("rest", "ElevenLabs voice agent", "k-1"),
        )
        self.assertEqual(
            document["changes"],
            [
                {
                    "product": "[UPD-DESK] Upd Desk",
                    "quantity_before": 2.0,
                    "quantity_after": 4.0,
                }
            ],
        )

    def test_a_spanish_speaking_agent_is_answered_in_spanish(self):
        self.assertTrue(self.env["res.lang"]._lang_get("es_ES").active)
        self.agent.lang = "es_ES"
        response = self.rest(
            self.order.name, {"lines": [{"product": "UPD-DESK", "quantity": 3}]}
        )
        self.assertEqual(response.status_code, 200, response.text)
        self.assertIn(
            f"Presupuesto {self.order.name} cambiado", response.json()["message"]
        )
        self.order.action_confirm()
        refused = self.rest(
            self.order.name, {"lines": [{"product": "UPD-DESK", "quantity": 4}]}
        )
        self.assertIn("No se cambió nada", refused.json()["message"])

    def test_rest_by_tracking_id_and_idempotency_key_changes_once(self):
        tracking_id = (
            self.env["quotation.task"]
            .search([("sale_order_id", "=", self.order.id)])
            .tracking_id
        )
        body = {"lines": [{"product": "UPD-DESK", "quantity": 5}]}
        headers = {"Idempotency-Key": "call-42-change-1"}
        first = self.rest(tracking_id, body, headers=headers)
        self.assertEqual(first.status_code, 200, first.text)
        # the customer changes their mind again in Odoo's eyes; the retry of
        # the first call must not undo it
        self.rest(self.order.name, {"lines": [{"product": "UPD-DESK", "quantity": 6}]})
        retry = self.rest(tracking_id, body, headers=headers)
        self.assertEqual(retry.status_code, 200, retry.text)
        self.assertEqual(retry.json(), first.json())
        self.assertEqual(self.lines()["UPD-DESK"], 6.0)
        self.assertEqual(len(self.notes()), 2)

    def test_rest_ambiguous_product_lists_candidates_and_changes_nothing(self):
        before = self.lines()
        response = self.rest(
            self.order.name, {"lines": [{"product": "Upd Chair", "quantity": 2}]}
        )
        self.assertEqual(response.status_code, 400, response.text)
        message = response.json()["message"]
        self.assertIn("Nothing was changed", message)
        self.assertIn("Upd Chair Oak", message)
        self.assertIn("Upd Chair Pine", message)
        self.assertEqual(self.lines(), before)
        self.assertFalse(self.notes())

    def test_rest_a_quotation_handed_to_a_salesperson_stays_the_agents(self):
        """Assigned by the engine (not an edit by a person) to a salesperson
        whose documents the agent's user may not read: still its own."""
        self.order.user_id = self.seller
        response = self.rest(
            self.order.name, {"lines": [{"product": "UPD-DESK", "quantity": 3}]}
        )
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(self.lines()["UPD-DESK"], 3.0)

    def test_rest_another_users_quotation_is_404_and_unchanged(self):
        theirs = self.quotation_of(self.other)
        response = self.rest(
            theirs.name, {"lines": [{"product": "UPD-DESK", "quantity": 9}]}
        )
        self.assertEqual(response.status_code, 404, response.text)
        self.assertEqual(self.lines(theirs), {"UPD-DESK": 2.0, "UPD-LAMP": 1.0})
        self.assertFalse(self.notes(theirs))

    def test_rest_a_reference_no_quotation_has_is_refused_not_a_500(self):
        for reference in ("S%00001", "%20", "S" * 65):
            response = self.rest(
                reference, {"lines": [{"product": "UPD-DESK", "quantity": 9}]}
            )
            self.assertIn(response.status_code, (404, 422), (reference, response.text))
            self.assertIn("quotation", response.json()["message"])
        self.assertEqual(self.lines(), {"UPD-DESK": 2.0, "UPD-LAMP": 1.0})
        self.assertFalse(self.notes())

    def test_rest_a_confirmed_quotation_is_409_and_unchanged(self):
        self.order.action_confirm()
        response = self.rest(
            self.order.name, {"lines": [{"product": "UPD-DESK", "quantity": 9}]}
        )
        self.assertEqual(response.status_code, 409, response.text)
        self.assertIn("not confirmed", response.json()["message"])
        self.assertEqual(self.lines(), {"UPD-DESK": 2.0, "UPD-LAMP": 1.0})
        self.assertFalse(self.notes())

    def test_rest_an_edit_by_someone_else_is_409_until_the_agent_reads_it_again(self):
        self.order.with_user(self.seller).sudo().write({"note": "Call before delivery"})
        body = {"lines": [{"product": "UPD-DESK", "quantity": 9}]}
        response = self.rest(self.order.name, body)
        self.assertEqual(response.status_code, 409, response.text)
        self.assertIn("Sam Seller", response.json()["message"])
        stale = self.rest(
            self.order.name, {**body, "expected_version": "2020-01-01T00:00:00"}
        )
        self.assertEqual(stale.status_code, 409, stale.text)
        self.assertEqual(self.lines()["UPD-DESK"], 2.0)
        self.assertFalse(self.notes())
        # the agent reads it again (get_quotation's version) and may change it
        version = QuotationService(self.env(user=self.seller)).get_quotation(
            self.order.name
        )["version"]
        response = self.rest(self.order.name, {**body, "expected_version": version})
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(self.lines()["UPD-DESK"], 9.0)

    def send(self):
        """The agent e-mails its quotation; Odoo sends it as the salesperson."""
        response = self.opener.post(
            f"{self.base_url()}/api/quotation/{self.order.name}/send",
            data=json.dumps({"confirm": True}),
            headers={
                "Authorization": f"Bearer {self.key}",
                "Content-Type": "application/json",
            },
            timeout=20,
        )
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json()["email"], "sent")
        self.order.invalidate_recordset()

    def test_rest_a_quotation_e_mailed_as_its_salesperson_may_still_be_changed(self):
        """The e-mail is no edit: sent as the salesperson, who then last wrote
        the order (marked sent, its chatter), the agent's next changes go
        through, also with the version it read before the e-mail."""
        self.order.user_id = self.seller
        read = QuotationService(self.env).get_quotation(self.order.name)["version"]
        self.send()
        self.assertEqual(
            (self.order.state, self.order.write_uid), ("sent", self.seller)
        )
        response = self.rest(
            self.order.name,
            {
                "lines": [{"product": "UPD-DESK", "quantity": 3}],
                "expected_version": read,
            },
        )
        self.assertEqual(response.status_code, 200, response.text)
        response = self.rest(
            self.order.name, {"lines": [{"product": "UPD-LAMP", "quantity": 2}]}
        )
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(self.lines(), {"UPD-DESK": 3.0, "UPD-LAMP": 2.0})
        self.assertEqual(len(self.notes()), 2)

    def test_rest_a_line_the_salesperson_changed_after_the_e_mail_is_409(self):
        self.order.user_id = self.seller
        self.send()
        desk = self.order.order_line.filtered(lambda line: line.product_id == self.desk)
        desk.with_user(self.seller).product_uom_qty = 5
        response = self.rest(
            self.order.name, {"lines": [{"product": "UPD-DESK", "quantity": 9}]}
        )
        self.assertEqual(response.status_code, 409, response.text)
        self.assertIn("Sam Seller edited", response.json()["message"])
        self.assertEqual(self.lines(), {"UPD-DESK": 5.0, "UPD-LAMP": 1.0})
        self.assertFalse(self.notes())

    def test_the_update_scope_is_nobodys_by_default(self):
        self.assertNotIn(scopes.UPDATE, scopes.DEFAULT)
        newcomer = new_test_user(self.env, login="omq_upd_newcomer", groups=SALESMAN)
        self.assertNotIn(scopes.UPDATE, newcomer.ai_agent_scopes)
        self.agent.ai_agent_scopes = "quotations:create"
        response = self.rest(
            self.order.name, {"lines": [{"product": "UPD-DESK", "quantity": 9}]}
        )
        self.assertEqual(response.status_code, 403, response.text)
        self.assertEqual(response.json()["error"]["code"], "insufficient_scope")
        self.assertEqual(self.lines()["UPD-DESK"], 2.0)

    def test_openapi_documents_the_update(self):
        document = self.opener.get(
            f"{self.base_url()}/api/quotation/openapi.json", timeout=20
        ).json()
        post = document["paths"]["/api/quotation/{reference}/update"]["post"]
        self.assertEqual(
            post["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/QuotationUpdate",
        )
        self.assertIn("409", post["responses"])

    # ------------------------------------------------------------------ MCP
    def mcp(self, arguments, meta=None, responses=None, key=None, headers=None):
        params = {"name": "update_quotation", "arguments": arguments}
        headers = {"MCP-Protocol-Version": "2025-11-25", **(headers or {})}
        if meta:
            params["_meta"] = meta
            headers = {
                "MCP-Protocol-Version": "2026-07-28",
                "Mcp-Method": "tools/call",
                "Mcp-Name": "update_quotation",
            }
        if responses:
            params["inputResponses"] = responses
        response = self.url_open(
            "/mcp",
            data=json.dumps(
                {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
            ),
            headers={
                "Authorization": f"Bearer {key or self.mcp_key}",
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
                **headers,
            },
        )
        return response.json()["result"]

    def initialize(self, client_name):
        """A handshake-era session whose client says it is ``client_name``."""
        response = self.url_open(
            "/mcp",
            data=json.dumps(initialize_message(client_name=client_name)),
            headers={
                "Authorization": f"Bearer {self.mcp_key}",
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
            },
        )
        return response.headers["Mcp-Session-Id"]

    def test_mcp_tool_is_listed_as_a_write_that_is_not_idempotent(self):
        response = self.url_open(
            "/mcp",
            data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
            headers={
                "Authorization": f"Bearer {self.key}",
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
                "MCP-Protocol-Version": "2025-11-25",
            },
        )
        tools = {tool["name"]: tool for tool in response.json()["result"]["tools"]}
        tool = tools["update_quotation"]
        self.assertFalse(tool["annotations"]["readOnlyHint"])
        self.assertFalse(tool["annotations"]["idempotentHint"])
        self.assertIn("quotation", tool["inputSchema"]["required"])
        self.assertIn("expected_version", tool["inputSchema"]["properties"])

    def test_mcp_changes_a_quantity_and_removes_a_line(self):
        result = self.mcp(
            {
                "quotation": self.order.name,
                "lines": [
                    {"product": "UPD-DESK", "quantity": 1},
                    {"product": "Upd Lamp", "quantity": 0},
                ],
            }
        )
        self.assertFalse(result.get("isError"), result)
        self.assertEqual(self.lines(), {"UPD-DESK": 1.0})
        self.assertEqual(result["structuredContent"]["reference"], self.order.name)
        # a client that never said its name: the key's
        self.assertIn(
            "Update Agent changed this quotation through Claude Desktop (MCP client):",
            self.notes().body,
        )

    def test_mcp_the_note_names_the_client_as_it_calls_itself(self):
        """At initialize (handshake revisions) or in every request's _meta
        (2026-07-28), before the key's name."""
        session = self.initialize("Claude Code")
        change = {"quotation": self.order.name}
        result = self.mcp(
            {**change, "lines": [{"product": "UPD-DESK", "quantity": 3}]},
            headers={"Mcp-Session-Id": session},
        )
        self.assertFalse(result.get("isError"), result)
        meta = {
            **MODERN,
            "io.modelcontextprotocol/clientInfo": {"name": "claude-ai", "version": "1"},
        }
        result = self.mcp(
            {**change, "lines": [{"product": "UPD-DESK", "quantity": 4}]}, meta=meta
        )
        self.assertFalse(result.get("isError"), result)
        older, newer = self.notes().sorted("id")
        self.assertIn("through Claude Code (MCP client):", older.body)
        self.assertIn("through claude-ai (MCP client):", newer.body)
        self.assertEqual(
            self.env["quotation.task.change"]
            .search([("sale_order_id", "=", self.order.id)])
            .mapped("client_name"),
            ["claude-ai", "Claude Code"],
        )

    def test_mcp_over_oauth_a_client_that_never_said_its_name_is_its_apps(self):
        _grant, token = oauth_token(
            self.agent.with_env(self.env), f"{self.base_url()}/mcp", SCOPES
        )
        result = self.mcp(
            {
                "quotation": self.order.name,
                "lines": [{"product": "UPD-DESK", "quantity": 3}],
            },
            key=token,
        )
        self.assertFalse(result.get("isError"), result)
        self.assertIn(
            "Update Agent changed this quotation through Claude (MCP client):",
            self.notes().body,
        )

    def test_mcp_refuses_another_users_and_a_confirmed_quotation(self):
        theirs = self.quotation_of(self.other)
        result = self.mcp(
            {
                "quotation": theirs.name,
                "lines": [{"product": "UPD-DESK", "quantity": 9}],
            }
        )
        self.assertTrue(result["isError"])
        self.assertEqual(self.lines(theirs)["UPD-DESK"], 2.0)
        self.order.action_confirm()
        result = self.mcp(
            {
                "quotation": self.order.name,
                "lines": [{"product": "UPD-DESK", "quantity": 9}],
            }
        )
        self.assertTrue(result["isError"])
        self.assertIn("not confirmed", result["content"][0]["text"])
        self.assertEqual(self.lines()["UPD-DESK"], 2.0)
        self.assertFalse(self.notes() | self.notes(theirs))

    def test_mcp_asks_which_product_was_meant_then_changes_it(self):
        arguments = {
            "quotation": self.order.name,
            "lines": [{"product": "Upd Chair", "quantity": 2}],
        }
        asked = self.mcp(arguments, meta=MODERN)
        self.assertEqual(asked["resultType"], "input_required", asked)
        question = asked["inputRequests"]["line-1"]["params"]
        options = question["requestedSchema"]["properties"]["product"]["oneOf"]
        self.assertEqual(
            sorted(option["const"] for option in options), ["UPD-OAK", "UPD-PINE"]
        )
        self.assertNotIn("UPD-OAK", self.lines())
        declined = self.mcp(
            arguments, meta=MODERN, responses={"line-1": {"action": "decline"}}
        )
        self.assertTrue(declined["isError"])
        self.assertIn("Nothing was changed", declined["content"][0]["text"])
        self.assertNotIn("UPD-OAK", self.lines())
        answered = self.mcp(
            arguments,
            meta=MODERN,
            responses={
                "line-1": {"action": "accept", "content": {"product": "UPD-PINE"}}
            },
        )
        self.assertFalse(answered.get("isError"), answered)
        self.assertEqual(self.lines()["UPD-PINE"], 2.0)

    def test_mcp_a_client_that_cannot_answer_gets_the_candidates(self):
        result = self.mcp(
            {
                "quotation": self.order.name,
                "lines": [{"product": "Upd Chair", "quantity": 2}],
            }
        )
        self.assertTrue(result["isError"])
        self.assertIn("Upd Chair Pine", result["content"][0]["text"])
        self.assertEqual(self.lines(), {"UPD-DESK": 2.0, "UPD-LAMP": 1.0})
