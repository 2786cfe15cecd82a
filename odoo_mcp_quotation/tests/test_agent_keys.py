import json
import xmlrpc.client

from odoo import release
from odoo.tests import HttpCase, tagged
from odoo.tests.common import JsonRpcException

from ..services.caller import KEY_SCOPE
from .common import SALESMAN, TestUsersMixin, api_key, quotation_payload
from .mcp_messages import initialize_message

# Odoo 19.0's JSON-2 API, a bearer door beside XML-RPC (addons/rpc/controllers/json2.py)
HAS_JSON2 = release.version_info[0] >= 19


@tagged("post_install", "-at_install")
class TestAgentKeys(TestUsersMixin, HttpCase):
    """A key made for AI agents reaches this addon's REST API and MCP server,
    and Odoo's XML-RPC and JSON-RPC refuse it; a global key reaches both."""

    test_users = {"agent": {"login": "omq_agent_key", "groups": SALESMAN}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["product.product"].create(
            {"name": "Standing Desk", "default_code": "OMQ-DESK", "list_price": 500}
        )
        keys = cls.env["res.users.apikeys"].with_user(cls.agent).sudo()
        cls.agent_key = keys._generate(KEY_SCOPE, "voice agent", None)
        cls.global_key = api_key(cls.agent, "global")

    def rest(self, key):
        return self.url_open(
            "/api/quotation/async",
            data=json.dumps(quotation_payload()),
            headers={
                "Authorization": f"Bearer {key}",
                "Content-Type": "application/json",
            },
        )

    def mcp(self, key):
        return self.url_open(
            "/mcp",
            data=json.dumps(initialize_message("2025-11-25")),
            headers={
                "Authorization": f"Bearer {key}",
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
            },
        )

    def xmlrpc(self, key):
        return self.xmlrpc_object.execute_kw(
            self.env.cr.dbname, self.agent.id, key, "res.partner", "search_count", [[]]
        )

    def jsonrpc(self, key):
        args = [self.env.cr.dbname, self.agent.id, key, "res.partner", "search_count"]
        return self.make_jsonrpc_request(
            "/jsonrpc",
            {"service": "object", "method": "execute_kw", "args": [*args, [[]]]},
        )

    def json2(self, key):
        return self.url_open(
            "/json/2/res.partner/search_count",
            data=json.dumps({"domain": []}),
            headers={
                "Authorization": f"Bearer {key}",
                "Content-Type": "application/json",
                "X-Odoo-Database": self.env.cr.dbname,
            },
        )

    def test_an_agent_key_reaches_rest_and_mcp_but_not_odoos_rpc(self):
        self.assertEqual(self.rest(self.agent_key).status_code, 202)
        self.assertEqual(self.mcp(self.agent_key).status_code, 200)
        with self.assertRaisesRegex(xmlrpc.client.Fault, "Access Denied"):
            self.xmlrpc(self.agent_key)
        with self.assertRaisesRegex(JsonRpcException, "AccessDenied"):
            self.jsonrpc(self.agent_key)
        if HAS_JSON2:
            self.assertEqual(self.json2(self.agent_key).status_code, 401)

    def test_a_global_key_reaches_both(self):
        self.assertEqual(self.rest(self.global_key).status_code, 202)
        self.assertEqual(self.mcp(self.global_key).status_code, 200)
        count = self.env["res.partner"].with_user(self.agent).search_count([])
        self.assertEqual(self.xmlrpc(self.global_key), count)
        self.assertEqual(self.jsonrpc(self.global_key), count)
        if HAS_JSON2:
            self.assertEqual(self.json2(self.global_key).json(), count)

    def test_the_new_agent_key_button_makes_a_key_of_the_addons_scope(self):
        """The button, Odoo's identity check, the dialog, the key shown once;
        the user form then says the key reaches AI agents only."""
        self.authenticate(self.agent.login, self.agent.login)

        def call(model, method, *args, **kwargs):
            return self.make_jsonrpc_request(
                f"/web/dataset/call_kw/{model}/{method}",
                {"model": model, "method": method, "args": args, "kwargs": kwargs},
            )

        dialog = call("res.users", "action_new_ai_agent_key", [self.agent.id])
        self.assertEqual(dialog["res_model"], "ai.agent.key.wizard")
        wizard = call("ai.agent.key.wizard", "create", {"name": "ElevenLabs"})
        check = call("ai.agent.key.wizard", "make_key", [wizard])
        self.assertEqual(check["res_model"], "res.users.identitycheck")
        identity = [check["res_id"]]

        def run_check(password):
            """The password as Odoo 18 (a field) and 19 (the context) take it."""
            call("res.users.identitycheck", "write", identity, {"password": password})
            return call(
                "res.users.identitycheck",
                "run_check",
                identity,
                context={"password": password},
            )

        with self.assertRaisesRegex(JsonRpcException, "UserError"):
            run_check("x")
        self.assertNotIn("ElevenLabs", self.agent.api_key_ids.mapped("name"))
        shown = run_check(self.agent.login)
        self.assertEqual(shown["res_model"], "res.users.apikeys.show")
        key = shown["context"]["default_key"]
        self.env.invalidate_all()

        made = self.agent.api_key_ids.filtered(lambda k: k.name == "ElevenLabs")
        self.assertEqual(made.scope, KEY_SCOPE)
        self.assertEqual(made.ai_agent_key_reach, "agents")
        self.assertEqual(
            self.agent.ai_agent_key_ids.filtered(
                lambda k: k.name == "global"
            ).ai_agent_key_reach,
            "agents_rpc",
        )
        self.assertEqual(self.mcp(key).status_code, 200)
        with self.assertRaisesRegex(xmlrpc.client.Fault, "Access Denied"):
            self.xmlrpc(key)

    def test_nobody_makes_an_agent_key_for_someone_else(self):
        """An administrator on another user's form gets a clear refusal, and
        no key is made (a key acts as its owner)."""
        self.authenticate("admin", "admin")
        before = self.agent.api_key_ids
        with self.assertRaisesRegex(JsonRpcException, "UserError"):
            self.make_jsonrpc_request(
                "/web/dataset/call_kw/res.users/action_new_ai_agent_key",
                {
                    "model": "res.users",
                    "method": "action_new_ai_agent_key",
                    "args": [[self.agent.id]],
                    "kwargs": {},
                },
            )
        self.env.invalidate_all()
        self.assertEqual(self.agent.api_key_ids, before)
