import json

from odoo.tests import HttpCase, new_test_user, tagged

from ..lib.request_schema import request_json_schema
from ..models.quotation_task import _last_wake_up
from .common import SALESMAN, TestUsersMixin, api_key, quotation_payload
from .smtp_server import MailServerMixin

ASYNC = "/api/quotation/async"


@tagged("post_install", "-at_install")
class TestRestApi(MailServerMixin, TestUsersMixin, HttpCase):
    test_users = {"agent": {"login": "omq_voice", "groups": SALESMAN}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key = api_key(cls.agent)
        cls.env["product.product"].create(
            [
                {
                    "name": "Standing Desk",
                    "default_code": "OMQ-DESK",
                    "list_price": 500,
                },
                {"name": "Ergonomic Chair", "list_price": 120},
            ]
        )

    def call(self, method, path, body=None, *, key=None, headers=None, raw=None):
        headers = {
            "Authorization": f"Bearer {key or self.key}",
            "Content-Type": "application/json",
            **(headers or {}),
        }
        data = (
            raw if raw is not None else (json.dumps(body) if body is not None else None)
        )
        return self.opener.request(
            method, self.base_url() + path, data=data, headers=headers, timeout=20
        )

    def post(self, body=None, **kwargs):
        """POST a quotation request, as the voice agent does."""
        return self.call("POST", ASYNC, body, **kwargs)

    def tasks(self):
        return self.env["quotation.task"].search([])

    def assert_error(self, response, status, code):
        self.assertEqual(response.status_code, status, response.text)
        self.assertTrue(response.headers["Content-Type"].startswith("application/json"))
        body = response.json()
        self.assertEqual(body["error"]["code"], code)
        self.assertTrue(body["message"])
        self.assertEqual(body["message"], body["error"]["message"])
        return body

    # ------------------------------------------------------------------ happy path
    def test_post_queues_a_task_and_status_follows_it_to_the_quotation(self):
        response = self.post(quotation_payload())
        self.assertEqual(response.status_code, 202, response.text)
        body = response.json()
        self.assertEqual(body["status"], "pending")
        self.assertTrue(body["message"].startswith("Thank you"))
        self.assertTrue(body["status_url"].endswith(f"/status/{body['tracking_id']}"))
        task = self.tasks().filtered(lambda t: t.tracking_id == body["tracking_id"])
        self.assertEqual((task.channel, task.requested_by_id), ("rest", self.agent))

        status = self.call("GET", f"/api/quotation/status/{body['tracking_id']}")
        self.assertEqual(status.status_code, 200)
        self.assertEqual(status.json()["status"], "pending")

        self.env["quotation.task"]._process_due()
        done = self.call("GET", f"/api/quotation/status/{body['tracking_id']}").json()
        self.assertEqual(done["status"], "done")
        self.assertEqual(done["order_reference"], task.sale_order_id.name)
        self.assertAlmostEqual(done["total"], task.sale_order_id.amount_total)
        self.assertIn(task.sale_order_id.name, done["message"])
        self.assertIn("access_token=", done["portal_url"])

    def test_a_status_poll_costs_five_statements_of_ours(self):
        """What a voice agent's polling costs, as MCP's status call: the key's
        check, the rate-limit count, then the task, its order and the order's currency.
        No public user, no savepoint (the test cursor's own are not counted,
        nor Odoo's registry check, skipped in test mode)."""
        tracking_id = self.post(quotation_payload()).json()["tracking_id"]
        self.env["quotation.task"]._process_due()
        url = f"/api/quotation/status/{tracking_id}"
        self.call("GET", url)  # the per-process caches warm
        before = self.cr.sql_log_count
        answer = self.call("GET", url).json()
        self.assertEqual(answer.get("status"), "done", answer)
        self.assertEqual(self.cr.sql_log_count - before, 5)

    def test_elevenlabs_tools_as_the_agent_calls_them(self):
        """Fill the generated tool definitions as ElevenLabs would, then call
        them: the quotation asked for, followed, changed and e-mailed."""
        tools = {
            tool["tool_config"]["name"]: tool["tool_config"]
            for tool in self.opener.get(
                self.base_url() + "/api/quotation/elevenlabs-tools.json", timeout=20
            ).json()
        }
        create = tools["create_quotation"]["api_schema"]
        status_tool = tools["get_quotation_status"]["api_schema"]
        # what the LLM extracts from the call, by property description
        said = {
            "customer_name": "Lucía Fernández",
            "email": "lucia@example.com",
            "phone": "+34 611 222 333",
            "company_name": "Fernández Interiores",
            "lang": "es",
            "notes": "Llamada entrante: necesita dos escritorios.",
            "lines": [{"product": "OMQ-DESK", "quantity": 2}],
        }
        system = {"system__conversation_id": "conv_01jx9x2m3n4p5q6r7s8t9v0w1x"}
        body = {}
        for name, prop in create["request_body_schema"]["properties"].items():
            if "dynamic_variable" in prop:
                body[name] = system[prop["dynamic_variable"]]
            else:
                self.assertTrue(prop["description"], name)
                body[name] = said[name]
        path = create["url"].removeprefix(self.base_url())
        first = self.call(create["method"], path, body)
        retried = self.call(create["method"], path, body)
        self.assertEqual(first.status_code, 202, first.text)
        self.assertEqual(first.json()["tracking_id"], retried.json()["tracking_id"])
        self.assertIn("Gracias", first.json()["message"])

        assignment = tools["create_quotation"]["assignments"][0]
        variables = {
            assignment["dynamic_variable"]: first.json()[assignment["value_path"]]
        }
        self.env["quotation.task"]._process_due()
        path_param = status_tool["path_params_schema"]["tracking_id"]
        url = status_tool["url"].replace(
            "{tracking_id}", variables[path_param["dynamic_variable"]]
        )
        status = self.call(status_tool["method"], url.removeprefix(self.base_url()))
        self.assertEqual(status.json()["status"], "done")
        self.assertIn("está listo", status.json()["message"])

        # the caller wants three desks, then says yes to the e-mail
        self.agent.ai_agent_scopes = (
            "quotations:create quotations:update quotations:send"
        )
        self.env.flush_all()

        def call_tool(name, said):
            api = tools[name]["api_schema"]
            properties = api["request_body_schema"]["properties"]
            self.assertEqual(set(said), set(properties))
            self.assertTrue(all(prop["description"] for prop in properties.values()))
            path_param = api["path_params_schema"]["tracking_id"]
            url = api["url"].replace(
                "{tracking_id}", variables[path_param["dynamic_variable"]]
            )
            return self.call(api["method"], url.removeprefix(self.base_url()), said)

        changed = call_tool(
            "update_quotation", {"lines": [{"product": "OMQ-DESK", "quantity": 3}]}
        )
        self.assertEqual(changed.status_code, 200, changed.text)
        self.env.invalidate_all()
        order = self.tasks().sale_order_id
        self.assertEqual(order.order_line.product_uom_qty, 3.0)
        self.assertAlmostEqual(changed.json()["amount_untaxed"], 1500)
        sent = call_tool("send_quotation", {"confirm": True})
        self.assertEqual(sent.status_code, 200, sent.text)
        self.assertEqual((sent.json()["email"], order.state), ("sent", "sent"))

    def test_legacy_field_names_are_accepted(self):
        response = self.post(
            {
                "partner_name": "Old Agent",
                "email": "old@example.com",
                "products": [{"product_code": "OMQ-DESK", "qty": 1}],
            },
        )
        self.assertEqual(response.status_code, 202, response.text)

    def test_idempotency_key_header_returns_the_same_tracking_id(self):
        headers = {"Idempotency-Key": "retry-1"}
        first = self.post(quotation_payload(), headers=headers)
        second = self.post(quotation_payload(), headers=headers)
        self.assertEqual(first.json()["tracking_id"], second.json()["tracking_id"])
        self.assertEqual(len(self.tasks()), 1)

    # ------------------------------------------------------------------ errors
    def test_missing_or_bad_key_is_401_with_www_authenticate(self):
        for headers in ({"Authorization": ""}, {"Authorization": "Bearer nope"}):
            response = self.opener.post(
                self.base_url() + ASYNC,
                data=json.dumps(quotation_payload()),
                headers={"Content-Type": "application/json", **headers},
                timeout=20,
            )
            self.assert_error(response, 401, "unauthenticated")
            self.assertTrue(response.headers["WWW-Authenticate"].startswith("Bearer"))
        self.assertFalse(self.tasks())

    def test_bad_input_gets_a_clear_error_and_creates_nothing(self):
        cases = [
            ("POST", ASYNC, {"raw": "{not json"}, 400, "malformed_json"),
            ("POST", ASYNC, {"raw": "x" * (65 * 1024)}, 413, "payload_too_large"),
            (
                "POST",
                ASYNC,
                {"raw": "a=b", "headers": {"Content-Type": "text/plain"}},
                415,
                "unsupported_media_type",
            ),
            ("GET", ASYNC, {}, 405, "method_not_allowed"),
            ("PUT", ASYNC, {"body": quotation_payload()}, 405, "method_not_allowed"),
            ("POST", "/api/quotation/status/abc", {}, 405, "method_not_allowed"),
            ("GET", "/api/quotation/status/" + "0" * 32, {}, 404, "not_found"),
        ]
        for method, path, kwargs, status, code in cases:
            with self.subTest(method=method, path=path, code=code):
                self.assert_error(self.call(method, path, **kwargs), status, code)
        self.assertFalse(self.tasks())

    def test_schema_violations_list_every_field_at_once(self):
        response = self.post(
            {
                "customer_name": "",
                "email": "bad",
                "lines": [{"product": "OMQ-DESK", "quantity": 0}],
                "colour": "red",
            },
        )
        body = self.assert_error(response, 422, "invalid_request")
        self.assertEqual(
            {detail["field"] for detail in body["error"]["details"]},
            {"customer_name", "email", "lines[0].quantity", "colour"},
        )
        self.assertIn("email", body["message"])
        self.assertFalse(self.tasks())

    def test_error_messages_follow_the_request_language(self):
        body = self.assert_error(
            self.post({"lang": "es", "lines": []}),
            422,
            "invalid_request",
        )
        self.assertIn("Faltan datos", body["message"])

    def test_another_users_task_is_404_like_an_unknown_one(self):
        task_id = self.post(quotation_payload()).json()["tracking_id"]
        other = new_test_user(
            self.env, login="omq_other", groups="sales_team.group_sale_manager"
        )
        response = self.call(
            "GET", f"/api/quotation/status/{task_id}", key=api_key(other)
        )
        self.assert_error(response, 404, "not_found")

    def test_another_companys_task_is_404(self):
        task_id = self.post(quotation_payload()).json()["tracking_id"]
        company_b = self.env["res.company"].create({"name": "Company B"})
        task = self.tasks().filtered(lambda t: t.tracking_id == task_id)
        task.company_id = company_b  # a company the agent's user does not belong to
        response = self.call("GET", f"/api/quotation/status/{task_id}")
        self.assert_error(response, 404, "not_found")

    def test_rate_limit_per_key_answers_429_with_retry_after(self):
        self.env["ir.config_parameter"].set_param(
            "odoo_mcp_quotation.rate_limit_per_minute", "3"
        )
        statuses = [
            self.call("GET", "/api/quotation/status/x").status_code for _ in range(3)
        ]
        self.assertEqual(statuses, [404, 404, 404])
        limited = self.post(quotation_payload())
        self.assert_error(limited, 429, "rate_limited")
        self.assertTrue(1 <= int(limited.headers["Retry-After"]) <= 60)
        other = new_test_user(
            self.env, login="omq_other2", groups="sales_team.group_sale_salesman"
        )
        fresh_key = self.post(quotation_payload(), key=api_key(other))
        self.assertEqual(fresh_key.status_code, 202, "each key has its own budget")
        self.assertEqual(len(self.tasks()), 1)

    # ------------------------------------------------------------------ health and docs
    def test_health_says_up_to_anyone_and_the_queue_to_an_administrator(self):
        self.post(quotation_payload())
        url = self.base_url() + "/health"
        anonymous = self.opener.get(url, timeout=20)
        self.assertEqual((anonymous.status_code, anonymous.json()), (200, {"ok": True}))
        seller = self.opener.get(
            url, headers={"Authorization": f"Bearer {self.key}"}, timeout=20
        )
        self.assertEqual(seller.json(), {"ok": True}, "a seller's key sees no more")
        admin = new_test_user(
            self.env,
            login="omq_operator",
            groups="odoo_mcp_quotation.group_quotation_task_manager",
        )
        response = self.opener.get(
            url, headers={"Authorization": f"Bearer {api_key(admin)}"}, timeout=20
        )
        self.assertEqual(response.status_code, 200)
        health = response.json()
        self.assertTrue(health["ok"])
        self.assertEqual(health["database"], self.env.cr.dbname)
        # the manifest's version, prefixed by Odoo with its series
        module = self.env["ir.module.module"].search(
            [("name", "=", "odoo_mcp_quotation")]
        )
        self.assertEqual(health["version"], module.latest_version)
        self.assertRegex(health["version"], r"^(18|19)\.0\.1\.1\.0$")
        self.assertGreaterEqual(health["queue"]["pending"], 1)
        self.assertIsNotNone(health["queue"]["oldest_pending_age_s"])

    def test_health_wakes_a_stalled_queue_without_a_login(self):
        """A load balancer's check is the first sign of life after a restart:
        it runs as nobody, and its one write is the cron trigger."""
        body = self.call("POST", ASYNC, quotation_payload()).json()
        self.env.cr.execute(
            "UPDATE quotation_task SET create_date = now() AT TIME ZONE 'UTC'"
            " - interval '1 minute' WHERE tracking_id = %s",
            [body["tracking_id"]],
        )
        _last_wake_up.clear()  # no wake-up from another test in this process
        lane = self.env.ref("odoo_mcp_quotation.ir_cron_process_quotation_tasks")
        triggers = self.env["ir.cron.trigger"]
        # the creation's trigger was taken by a worker that then died
        triggers.search([("cron_id", "=", lane.id)]).unlink()
        anonymous = self.opener.get(self.base_url() + "/health", timeout=20)
        self.assertEqual((anonymous.status_code, anonymous.json()), (200, {"ok": True}))
        self.assertEqual(triggers.search_count([("cron_id", "=", lane.id)]), 1)

    def test_openapi_document_is_generated_from_the_request_schema(self):
        response = self.opener.get(
            self.base_url() + "/api/quotation/openapi.json", timeout=20
        )
        self.assertEqual(response.status_code, 200)
        document = response.json()
        self.assertEqual(document["openapi"], "3.1.0")
        self.assertEqual(
            document["components"]["schemas"]["QuotationRequest"], request_json_schema()
        )
        post = document["paths"]["/api/quotation/async"]["post"]
        self.assertEqual(
            set(post["responses"]),
            {"200", "202", "400", "401", "405", "413", "415", "422", "429"},
        )
        for ref in _refs(document):
            name = ref.split("/")[-1]
            self.assertIn(name, document["components"]["schemas"], ref)

    def test_api_page_uses_only_the_addons_own_files(self):
        page = self.opener.get(self.base_url() + "/api/quotation/docs", timeout=20)
        self.assertEqual(page.status_code, 200)
        self.assertNotIn("https://", page.text)
        self.assertIn(
            "/odoo_mcp_quotation/static/lib/redoc/redoc.standalone.js", page.text
        )
        script = self.opener.get(
            self.base_url()
            + "/odoo_mcp_quotation/static/lib/redoc/redoc.standalone.js",
            timeout=20,
        )
        self.assertEqual(script.status_code, 200)
        self.assertIn("Redoc", script.text[:2000])


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)

    def test_a_key_without_the_create_scope_gets_403_and_creates_nothing(self):
        reader = new_test_user(
            self.env, login="omq_reader", groups="sales_team.group_sale_salesman"
        )
        reader.ai_agent_scopes = "quotations:read"
        key = api_key(reader)
        response = self.post(quotation_payload(), key=key)
        self.assert_error(response, 403, "insufficient_scope")
        self.assertIn("quotations:create", response.json()["message"])
        self.assertIn('scope="quotations:create"', response.headers["WWW-Authenticate"])
        self.assertFalse(self.tasks())
        status = self.call("GET", "/api/quotation/status/x", key=key)
        self.assert_error(status, 403, "insufficient_scope")
