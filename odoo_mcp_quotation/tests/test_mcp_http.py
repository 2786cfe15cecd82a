import json

from odoo.tests import HttpCase, new_test_user, tagged

from ..lib.query_schema import QuotationQueued, output_schema
from ..lib.request_schema import request_json_schema
from .common import SALESMAN, TestUsersMixin, api_key
from .mcp_messages import TOOLS, initialize_message

PROTOCOL = {"MCP-Protocol-Version": "2025-11-25"}


def desk_request(customer, quantity, conversation_id):
    """A create_quotation request for MCP desks, the customer's e-mail from
    their name."""
    return {
        "customer_name": customer,
        "email": customer.lower().replace(" ", ".") + "@example.com",
        "lines": [{"product": "MCP-DESK", "quantity": quantity}],
        "conversation_id": conversation_id,
    }


@tagged("post_install", "-at_install")
class TestMcpHttp(TestUsersMixin, HttpCase):
    """Streamable HTTP details at /mcp, through real HTTP on the test server."""

    test_users = {
        "user": {
            "login": "omq_mcp_agent",
            "groups": f"{SALESMAN},base.group_user",
            # these tests call the read tools: more than a new user's default
            "ai_agent_scopes": "quotations:create quotations:read customers:read",
        },
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = api_key(cls.user, "mcp tests")
        cls.env["product.product"].create(
            {"name": "MCP Desk", "default_code": "MCP-DESK", "list_price": 300.0}
        )

    def post(self, message, key=None, **headers):
        headers = {
            "Authorization": f"Bearer {key or self.key}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            **headers,
        }
        body = message if isinstance(message, bytes) else json.dumps(message)
        return self.url_open("/mcp", data=body, headers=headers)

    def call(self, method, params=None, request_id=1, **headers):
        message = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        return self.post(message, **{**PROTOCOL, **headers})

    def initialize(self, version="2025-11-25"):
        return self.post(initialize_message(version))

    def test_initialize_opens_a_session_kept_in_postgresql(self):
        response = self.initialize()
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers["Content-Type"], "application/json")
        self.assertEqual(response.json()["result"]["protocolVersion"], "2025-11-25")
        session = self.env["mcp.session"].search(
            [("session_key", "=", response.headers["Mcp-Session-Id"])]
        )
        self.assertEqual(session.user_id, self.user)
        self.assertEqual(session.transport, "streamable_http")
        self.assertEqual(session.protocol_version, "2025-11-25")
        self.assertEqual(session.client_name, "Claude Code")

    def test_a_revoked_key_stops_working_at_once(self):
        user = new_test_user(
            self.env, login="omq_mcp_revoked", groups="base.group_user"
        )
        key = api_key(user)
        self.assertEqual(self.call("ping", key=key).status_code, 200)
        self.assertEqual(self.call("ping", key=key).status_code, 200)  # remembered
        self.assertEqual(self.call("ping", key=key + "x").status_code, 401)
        self.env["res.users.apikeys"].search([("user_id", "=", user.id)]).unlink()
        response = self.call("ping", key=key)
        self.assertEqual(response.status_code, 401)
        self.assertIn("revoked", response.json()["error"]["message"])

    def test_a_session_of_another_user_is_unknown(self):
        session_key = self.initialize().headers["Mcp-Session-Id"]
        other = new_test_user(self.env, login="omq_mcp_other", groups="base.group_user")
        response = self.call(
            "ping", key=api_key(other), **{"Mcp-Session-Id": session_key}
        )
        self.assertEqual(response.status_code, 404)

    def test_notifications_get_202_get_gets_405_delete_ends_the_session(self):
        session_key = self.initialize().headers["Mcp-Session-Id"]
        response = self.post(
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            **{"Mcp-Session-Id": session_key},
        )
        self.assertEqual((response.status_code, response.content), (202, b""))
        auth = {"Authorization": f"Bearer {self.key}"}
        response = self.opener.get(self.base_url() + "/mcp", headers=auth)
        self.assertEqual(response.status_code, 405)
        self.assertEqual(response.headers["Allow"], "POST, DELETE")
        response = self.opener.delete(
            self.base_url() + "/mcp", headers={**auth, "Mcp-Session-Id": session_key}
        )
        self.assertEqual(response.status_code, 204)
        self.assertFalse(
            self.env["mcp.session"].search([("session_key", "=", session_key)])
        )

    def test_origin_allow_list_from_settings(self):
        evil = self.initialize_from("https://evil.example")
        self.assertEqual(evil.status_code, 403)
        self.assertEqual(evil.json()["error"]["code"], -32011)
        own = self.env["ir.config_parameter"].get_param("web.base.url")
        self.assertEqual(self.initialize_from(own).status_code, 200)
        self.env["ir.config_parameter"].set_param(
            "odoo_mcp_quotation.mcp_allowed_origins",
            "https://claude.ai, http://localhost:6274",
        )
        self.assertEqual(self.initialize_from("http://localhost:6274").status_code, 200)
        self.assertEqual(self.initialize_from("https://evil.example").status_code, 403)

    def initialize_from(self, origin):
        return self.post(initialize_message("2025-06-18", "browser"), Origin=origin)

    def test_a_client_accepting_only_event_streams_gets_one_event(self):
        response = self.post(
            {"jsonrpc": "2.0", "id": 9, "method": "ping"}, Accept="text/event-stream"
        )
        self.assertEqual(response.headers["Content-Type"], "text/event-stream")
        self.assertEqual(
            response.text,
            'event: message\ndata: {"jsonrpc":"2.0","id":9,"result":{}}\n\n',
        )

    def test_tools_list_uses_the_one_request_schema(self):
        tools = {
            t["name"]: t for t in self.call("tools/list").json()["result"]["tools"]
        }
        self.assertEqual(sorted(tools), TOOLS)
        create = tools["create_quotation"]
        self.assertEqual(create["inputSchema"], request_json_schema())
        self.assertEqual(create["execution"], {"taskSupport": "optional"})
        self.assertFalse(create["annotations"]["readOnlyHint"])
        self.assertFalse(create["annotations"]["destructiveHint"])
        for name in set(tools) - {"create_quotation"}:
            self.assertTrue(tools[name]["annotations"]["readOnlyHint"], name)
            self.assertEqual(tools[name]["outputSchema"]["type"], "object", name)

    def test_create_quotation_queues_a_task_and_invalid_input_changes_nothing(self):
        arguments = desk_request("Marta MCP", 2, "claude-conv-1")
        result = self.call(
            "tools/call", {"name": "create_quotation", "arguments": arguments}
        ).json()["result"]
        self.assertFalse(result["isError"])
        structured = result["structuredContent"]
        self.assertEqual(structured["status"], "pending")
        self.assertEqual(json.loads(result["content"][0]["text"]), structured)
        task = self.env["quotation.task"].search(
            [("tracking_id", "=", structured["tracking_id"])]
        )
        self.assertEqual((task.channel, task.requested_by_id), ("mcp", self.user))
        again = self.call(
            "tools/call", {"name": "create_quotation", "arguments": arguments}
        ).json()["result"]["structuredContent"]
        self.assertEqual(again["tracking_id"], structured["tracking_id"])

        count = self.env["quotation.task"].search_count([])
        invalid = self.call(
            "tools/call",
            {
                "name": "create_quotation",
                "arguments": {"customer_name": "X", "email": "nope", "lines": []},
            },
        ).json()["result"]
        self.assertTrue(invalid["isError"])
        text = invalid["content"][0]["text"]
        self.assertIn("- email: Not a valid e-mail address.", text)
        self.assertIn("- lines:", text)
        self.assertEqual(self.env["quotation.task"].search_count([]), count)

    def test_rest_and_mcp_answer_a_new_request_with_the_same_fields(self):
        """The same request (one conversation_id) through both doors: one task,
        and one answer shape, the one the tool's outputSchema declares."""
        arguments = desk_request("Both Doors", 1, "both-doors-1")
        rest = self.url_open(
            "/api/quotation/async",
            data=json.dumps(arguments),
            headers={
                "Authorization": f"Bearer {self.key}",
                "Content-Type": "application/json",
            },
        )
        self.assertEqual(rest.status_code, 202, rest.text)
        mcp = self.call(
            "tools/call", {"name": "create_quotation", "arguments": arguments}
        ).json()["result"]["structuredContent"]
        rest = rest.json()
        self.assertEqual(sorted(mcp), sorted(rest))
        self.assertEqual(
            {key: mcp[key] for key in mcp if key != "status_url"},
            {key: rest[key] for key in rest if key != "status_url"},
        )
        path = f"/api/quotation/status/{rest['tracking_id']}"
        self.assertTrue(rest["status_url"].endswith(path))
        self.assertTrue(mcp["status_url"].endswith(path))
        tools = {
            t["name"]: t for t in self.call("tools/list").json()["result"]["tools"]
        }
        schema = tools["create_quotation"]["outputSchema"]
        self.assertEqual(schema, output_schema(QuotationQueued))
        self.assertLessEqual(set(schema["required"]), set(rest))
        self.assertLessEqual(set(rest), set(schema["properties"]))

    def test_status_of_an_unknown_tracking_id_is_a_tool_error(self):
        result = self.call(
            "tools/call",
            {"name": "get_quotation_status", "arguments": {"tracking_id": "nope"}},
        ).json()["result"]
        self.assertTrue(result["isError"])
        self.assertIn(
            "There is no quotation request with that tracking id",
            result["content"][0]["text"],
        )

    def test_a_status_call_costs_five_statements_of_ours(self):
        """Issue 14's hot path, once the key is verified: the key's check, the
        rate-limit count, then the task, its order and the order's currency.
        Odoo's registry check, the third statement in production, is skipped
        in test mode; the test cursor's savepoints are not counted."""
        arguments = desk_request("Counted Call", 1, "counted-call-1")
        queued = self.call(
            "tools/call", {"name": "create_quotation", "arguments": arguments}
        ).json()["result"]["structuredContent"]
        self.env["quotation.task"]._process_due()
        status = {
            "name": "get_quotation_status",
            "arguments": {"tracking_id": queued["tracking_id"]},
        }
        self.call("tools/call", status)  # the per-process caches warm
        before = self.cr.sql_log_count
        result = self.call("tools/call", status).json()["result"]
        statements = self.cr.sql_log_count - before
        self.assertEqual(result["structuredContent"]["status"], "done")
        self.assertEqual(statements, 5)

    def test_mcp_shares_the_rest_rate_limit_of_the_key(self):
        self.env["ir.config_parameter"].set_param(
            "odoo_mcp_quotation.rate_limit_per_minute", "2"
        )
        self.assertEqual(self.call("tools/list").status_code, 200)
        rest = self.url_open(
            "/api/quotation/status/unknown",
            headers={"Authorization": f"Bearer {self.key}"},
        )
        self.assertEqual(rest.status_code, 404)
        limited = self.call("tools/list")
        self.assertEqual(limited.status_code, 429)
        self.assertTrue(1 <= int(limited.headers["Retry-After"]) <= 60)
        self.assertIn("Rate limit", limited.json()["error"]["message"])

    def test_unknown_tool_and_method_are_json_rpc_errors(self):
        error = self.call("tools/call", {"name": "drop_database"}).json()["error"]
        self.assertEqual(error["code"], -32602)
        error = self.call("prompts/list").json()["error"]
        self.assertEqual(error["code"], -32601)

    def test_legacy_sse_post_to_an_unknown_session_is_404(self):
        response = self.url_open(
            "/mcp/messages?session_id=nope",
            data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
            headers={"Authorization": f"Bearer {self.key}"},
        )
        self.assertEqual(response.status_code, 404)

    def test_a_new_integration_user_reaches_only_the_voice_agent_tools(self):
        narrow = new_test_user(
            self.env,
            login="omq_mcp_voice",
            groups="sales_team.group_sale_salesman,base.group_user",
        )
        self.assertEqual(narrow.ai_agent_scopes, "quotations:create")
        key = api_key(narrow)
        tools = self.call("tools/list", key=key).json()["result"]["tools"]
        self.assertEqual(
            sorted(tool["name"] for tool in tools),
            ["create_quotation", "get_quotation_status"],
        )
        tasks = self.env["quotation.task"].search_count([])
        response = self.call(
            "tools/call",
            {"name": "find_customer", "arguments": {"query": "a"}},
            key=key,
        )
        self.assertEqual(response.status_code, 403)
        challenge = response.headers["WWW-Authenticate"]
        self.assertIn('error="insufficient_scope"', challenge)
        self.assertIn('scope="customers:read"', challenge)
        self.assertIn("resource_metadata=", challenge)
        self.assertEqual(self.env["quotation.task"].search_count([]), tasks)

    def test_the_instructions_name_only_the_tools_the_caller_sees(self):
        narrow = new_test_user(
            self.env,
            login="omq_mcp_voice_instructions",
            groups="sales_team.group_sale_salesman,base.group_user",
        )
        reply = self.initialize()
        self.assertIn("search_products", reply.json()["result"]["instructions"])
        result = self.post(initialize_message("2025-11-25"), key=api_key(narrow))
        text = result.json()["result"]["instructions"]
        self.assertIn("create_quotation", text)
        self.assertIn("get_quotation_status", text)
        for hidden in ("search_products", "find_customer", "get_quotation "):
            self.assertNotIn(hidden, text)

    def test_claude_traffic_with_an_older_header_is_served_as_2026_07_28(self):
        """Claude's connectors send ``MCP-Protocol-Version: 2025-11-25`` while
        ``_meta`` names 2026-07-28 (claude-code issue 93290): the body wins;
        without the ``Mcp-Method`` / ``Mcp-Name`` headers too, while a header
        that contradicts the body is refused."""
        meta = {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {
                "name": "claude-ai",
                "version": "0.1.0",
            },
        }

        def claude(request_id, method, params=None, routing=None):
            return self.post(
                {
                    "jsonrpc": "2.0",
                    "id": request_id,
                    "method": method,
                    "params": {**(params or {}), "_meta": meta},
                },
                **{"MCP-Protocol-Version": "2025-11-25", **(routing or {})},
            )

        search = {"name": "search_products", "arguments": {"query": "MCP Desk"}}
        for routed in (True, False):
            with self.subTest(routing_headers=routed):

                def routing(method, name=None, routed=routed):
                    if not routed:
                        return None
                    return {
                        "Mcp-Method": method,
                        **({"Mcp-Name": name} if name else {}),
                    }

                discovered = claude(
                    1, "server/discover", routing=routing("server/discover")
                )
                self.assertEqual(discovered.status_code, 200, discovered.text)
                self.assertIn(
                    "2026-07-28", discovered.json()["result"]["supportedVersions"]
                )
                self.assertNotIn("Mcp-Session-Id", discovered.headers)
                listed = claude(2, "tools/list", routing=routing("tools/list"))
                listed = listed.json()["result"]
                self.assertIn(
                    "get_quotation", [tool["name"] for tool in listed["tools"]]
                )
                self.assertEqual(listed["resultType"], "complete")
                found = claude(
                    3, "tools/call", search, routing("tools/call", "search_products")
                ).json()["result"]
                self.assertFalse(found["isError"])
                self.assertEqual(found["resultType"], "complete")
                self.assertIn("MCP-DESK", json.dumps(found["structuredContent"]))
        for contradicting in (
            {"Mcp-Method": "tools/list"},
            {"Mcp-Name": "get_quotation"},
        ):
            refused = claude(4, "tools/call", search, contradicting)
            self.assertEqual(refused.status_code, 400, contradicting)
            self.assertEqual(refused.json()["error"]["code"], -32020)

    # ------------------------------------------------------------ abuse
    def test_a_batch_counts_each_message_against_the_rate_limit(self):
        self.env["ir.config_parameter"].set_param(
            "odoo_mcp_quotation.rate_limit_per_minute", "5"
        )
        batch = [{"jsonrpc": "2.0", "id": i, "method": "ping"} for i in range(4)]
        response = self.post(batch, **{"MCP-Protocol-Version": "2025-03-26"})
        self.assertEqual([r["id"] for r in response.json()], [0, 1, 2, 3])
        self.assertEqual(self.call("ping").status_code, 200)  # the 5th message
        limited = self.post(batch[:2], **{"MCP-Protocol-Version": "2025-03-26"})
        self.assertEqual(limited.status_code, 429)

    def test_a_user_budget_covers_all_their_keys(self):
        self.env["ir.config_parameter"].set_param(
            "odoo_mcp_quotation.rate_limit_per_user_per_minute", "3"
        )
        second_key = api_key(self.user)
        self.assertEqual(self.call("ping").status_code, 200)
        self.assertEqual(self.call("ping", key=second_key).status_code, 200)
        self.assertEqual(self.call("ping").status_code, 200)
        self.assertEqual(self.call("ping", key=second_key).status_code, 429)

    def test_the_default_budget_lets_a_conformance_run_through(self):
        """About 70 requests in a burst, as an MCP conformance suite sends."""
        statuses = {self.call("ping").status_code for _ in range(70)}
        self.assertEqual(statuses, {200})

    def test_a_portal_user_key_is_refused(self):
        portal = new_test_user(
            self.env, login="omq_mcp_portal", groups="base.group_portal"
        )
        response = self.call("ping", key=api_key(portal))
        self.assertEqual(response.status_code, 401)
        self.assertIn("portal user", response.json()["error"]["message"])

    def test_client_info_is_kept_short(self):
        message = initialize_message(client_name="n" * 500_000)
        message["params"]["clientInfo"]["version"] = "1\n\u202e2"
        response = self.post(message)
        self.assertEqual(response.status_code, 200)
        session = self.env["mcp.session"].search(
            [("session_key", "=", response.headers["Mcp-Session-Id"])]
        )
        self.assertEqual(session.client_name, "n" * 128)
        self.assertEqual(session.client_version, "1\ufffd\ufffd2", "one line")

    def test_sse_messages_refuse_a_streamable_http_session(self):
        session_key = self.initialize().headers["Mcp-Session-Id"]
        response = self.url_open(
            f"/mcp/messages?session_id={session_key}",
            data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
            headers={"Authorization": f"Bearer {self.key}"},
        )
        self.assertEqual(response.status_code, 404)
        self.assertFalse(self.env["mcp.session.message"].search([]))

    def test_tasks_result_answers_at_once_on_an_http_worker(self):
        """No worker waits for a quotation: a pending one says to poll."""
        created = self.call(
            "tools/call",
            {
                "name": "create_quotation",
                "arguments": {
                    "customer_name": "Task Poller",
                    "email": "poller@example.com",
                    "lines": [{"product": "MCP-DESK", "quantity": 1}],
                },
                "task": {},
            },
        ).json()["result"]["task"]
        error = self.call("tasks/result", {"taskId": created["taskId"]}).json()["error"]
        self.assertEqual(
            error["data"], {"taskId": created["taskId"], "status": "working"}
        )
        self.assertIn("poll tasks/get", error["message"])

    def test_the_2026_07_28_revision_without_a_session(self):
        meta = {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
        }
        response = self.post(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "server/discover",
                "params": {"_meta": meta},
            },
            **{"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "server/discover"},
        )
        result = response.json()["result"]
        self.assertIn("2026-07-28", result["supportedVersions"])
        self.assertNotIn("Mcp-Session-Id", response.headers)
        sessions = self.env["mcp.session"].search_count([])
        mismatch = self.post(
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "get_quotation", "arguments": {}, "_meta": meta},
            },
            **{
                "MCP-Protocol-Version": "2026-07-28",
                "Mcp-Method": "tools/call",
                "Mcp-Name": "drop_database",
            },
        )
        self.assertEqual(mismatch.status_code, 400)
        self.assertEqual(mismatch.json()["error"]["code"], -32020)
        self.assertEqual(self.env["mcp.session"].search_count([]), sessions)
