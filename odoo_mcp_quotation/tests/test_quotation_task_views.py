from datetime import timedelta

from lxml import etree

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import Form, tagged
from odoo.tools.safe_eval import safe_eval

from .common import SALESMAN, QuotationTaskCase, TestUsersMixin

VIEW_TYPES = ["list", "kanban", "form", "search", "graph", "pivot"]


def _parse(views, view_type):
    """The arch of ``get_views()["views"][view_type]`` as the user receives it."""
    return etree.fromstring(views[view_type]["arch"])


def _names(arch, *tags):
    """The names of the nodes of ``arch`` (of ``tags`` only, if given)."""
    return {node.get("name") for node in arch.iter(*tags)} - {None}


@tagged("post_install", "-at_install")
class TestQuotationTaskViews(TestUsersMixin, QuotationTaskCase):
    """Every view, menu and button a salesperson touches."""

    test_users = {
        "salesperson": {"login": "omq_views_seller", "groups": SALESMAN},
        "employee": {"login": "omq_views_employee", "groups": "base.group_user"},
        "manager": {
            "login": "omq_views_manager",
            "groups": "sales_team.group_sale_manager",
        },
    }

    def _arch(self, model, view_type, user=None):
        """The ``view_type`` view of ``model`` as ``user`` receives it, parsed."""
        records = self.env[model].with_user(user) if user else self.env[model]
        return _parse(records.get_views([(False, view_type)])["views"], view_type)

    def test_every_task_view_loads_for_salespeople(self):
        Task = self.env["quotation.task"].with_user(self.salesperson)
        for action_xmlid in (
            "odoo_mcp_quotation.action_quotation_task",
            "odoo_mcp_quotation.action_quotation_task_analysis",
        ):
            # what the web client asks for when the menu opens the action
            action = self.env["ir.actions.act_window"]._for_xml_id(action_xmlid)
            self.assertEqual(action["res_model"], "quotation.task")
            search_view = (action["search_view_id"][0], "search")
            views = Task.get_views([*action["views"], search_view])["views"]
            modes = action["view_mode"].split(",")
            self.assertEqual(set(views), {*modes, "search"}, action_xmlid)
            filters = _names(_parse(views, "search"))
            for key in safe_eval(action.get("context") or "{}"):
                self.assertIn(key.removeprefix("search_default_"), filters)
        views = Task.get_views([(False, view_type) for view_type in VIEW_TYPES])
        self.assertEqual(set(views["views"]), set(VIEW_TYPES))
        form = _parse(views["views"], "form")
        self.assertEqual(
            (form.get("edit"), form.get("delete")),
            ("False", "False"),
            "salespeople read requests; managers correct them",
        )
        buttons = _names(form, "button")
        self.assertIn("action_open_quotation", buttons)
        self.assertNotIn("action_retry", buttons, "retry is for managers only")
        self.assertNotIn("action_cancel", buttons, "cancel is for managers only")
        self.assertLessEqual(
            {"request_payload_pretty", "next_attempt_at", "line_ids"},
            _names(form, "field"),
        )
        self.assertEqual(len(form.findall("chatter")), 1)
        manager_form = _parse(
            self.env["quotation.task"].get_views([(False, "form")])["views"], "form"
        )
        self.assertLessEqual({"action_retry", "action_cancel"}, _names(manager_form))
        self.assertIsNone(manager_form.get("edit"))
        search = _names(_parse(views["views"], "search"), "filter")
        for name in ("failed_today", "slow", "mine", "channel_rest", "group_day"):
            self.assertIn(name, search)

    def test_search_filters_find_what_they_say(self):
        slow = self.submit()
        self.process()
        slow.duration = 12.5
        Task = self.env["quotation.task"].with_user(self.salesperson)
        search = _parse(Task.get_views([(False, "search")])["views"], "search")
        domains = {
            node.get("name"): node.get("domain")
            for node in search.iter("filter")
            # the web client's own date arithmetic (to_utc) is not Python
            if node.get("domain") and "context_today" not in node.get("domain")
        }
        self.assertIn("slow", domains)
        for name, domain in domains.items():
            with self.subTest(filter=name):
                found = Task.search(safe_eval(domain, {"uid": self.salesperson.id}))
                self.assertEqual(
                    slow in found, name in ("done", "slow", "channel_rest")
                )

    def test_manager_corrects_a_failed_request_in_the_form(self):
        failed = self.submit(lines=[{"product": "Flux Capacitor", "quantity": 2}])
        done = self.submit(email="done@example.com")
        self.process()
        self.assertEqual((failed.state, done.state), ("failed", "done"))
        with Form(failed.with_user(self.manager)) as form:
            form.customer_name = "Ana García Corrected"
            with form.line_ids.edit(0) as line:
                line.product_ref = "OMQ-DESK"
            with self.assertRaisesRegex(AssertionError, "readonly"):
                form.state = "done"  # the engine's alone
        self.assertEqual(failed.customer_name, "Ana García Corrected")
        self.assertEqual(failed.line_ids.product_ref, "OMQ-DESK")
        failed.with_user(self.manager).action_retry()
        self.process()
        self.assertEqual(failed.state, "done", failed.error)
        self.assertEqual(failed.sale_order_id.order_line.product_id, self.desk)
        form = Form(done.with_user(self.manager))  # built: the request is history
        for name in ("customer_name", "email", "notes"):
            with (
                self.subTest(field=name),
                self.assertRaisesRegex(AssertionError, "readonly"),
            ):
                setattr(form, name, "Changed")
        with self.assertRaisesRegex(AssertionError, "not editable"):
            form.line_ids.edit(0)

    def test_smart_buttons_load_only_for_those_who_see_tasks(self):
        for model in ("sale.order", "crm.lead", "res.partner"):
            buttons = _names(self._arch(model, "form", self.salesperson), "button")
            self.assertIn("action_view_quotation_tasks", buttons, model)
        partner_buttons = _names(self._arch("res.partner", "form", self.employee))
        self.assertNotIn("action_view_quotation_tasks", partner_buttons)

    def test_settings_view_loads(self):
        names = _names(self._arch("res.config.settings", "form"))
        for name in (
            "ai_quotation_team_id",
            "ai_quotation_user_id",
            "ai_quotation_send_email",
            "ai_quotation_max_attempts",
            "ai_quotation_backoff_seconds",
            "ai_quotation_rate_limit",
            "ai_quotation_rate_limit_user",
            "ai_quotation_mcp_streams_per_user",
            "ai_quotation_mcp_streams",
            "ai_quotation_mcp_allowed_origins",
            "action_open_my_api_keys",
        ):
            self.assertIn(name, names)
        # an administrator changes a limit in the settings form, as in the UI
        with Form(self.env["res.config.settings"]) as settings:
            settings.ai_quotation_rate_limit = 42
            settings.ai_quotation_max_attempts = 3
        settings.record.execute()
        reopened = Form(self.env["res.config.settings"])
        self.assertEqual(
            (reopened.ai_quotation_rate_limit, reopened.ai_quotation_max_attempts),
            (42, 3),
        )

    def test_menus_show_to_salespeople_only(self):
        menu = self.env.ref("odoo_mcp_quotation.menu_quotation_task")
        for user, visible in ((self.salesperson, True), (self.employee, False)):
            menus = self.env["ir.ui.menu"].with_user(user).load_menus(debug=False)
            with self.subTest(user=user.login):
                self.assertEqual(menu.id in menus, visible)

    def test_pretty_request_and_open_quotation(self):
        task = self.submit()
        self.assertIn('\n  "customer_name": "Ana García"', task.request_payload_pretty)
        with self.assertRaisesRegex(UserError, "no quotation yet"):
            task.action_open_quotation()
        self.process()
        action = task.action_open_quotation()
        self.assertEqual(
            (action["res_model"], action["res_id"]),
            ("sale.order", task.sale_order_id.id),
        )

    def test_smart_buttons_lead_back_to_the_requests(self):
        first = self.submit()
        second = self.submit(customer_name="Ana again")
        self.process()
        order, lead = first.sale_order_id, first.lead_id
        self.assertEqual(order.quotation_task_count, 1)
        self.assertEqual(lead.quotation_task_count, 1)
        action = order.action_view_quotation_tasks()
        self.assertEqual(
            (action["res_id"], action["views"]), (first.id, [(False, "form")])
        )
        company = first.partner_id.parent_id
        self.assertEqual(first.partner_id, second.partner_id)
        self.assertEqual(company.quotation_task_count, 2, "counts its contacts' too")
        action = company.action_view_quotation_tasks()
        self.assertEqual(
            self.env["quotation.task"].search(action["domain"]), first | second
        )
        stranger = self.env["res.partner"].create({"name": "No requests"})
        self.assertEqual(stranger.quotation_task_count, 0)

    def test_processing_time_is_measured_below_the_second(self):
        done = self.submit()
        failed = self.submit(email="x@example.com", lines=[{"product": "Nothing"}])
        self.process()
        for task in (done, failed):
            with self.subTest(state=task.state):
                self.assertGreater(task.duration, 0)
                self.assertLess(task.duration, 5)
                self.assertNotEqual(task.duration, round(task.duration), "not whole")

    def test_processing_time_average_and_p90_per_state(self):
        tasks = self.env["quotation.task"]
        now = fields.Datetime.now()
        for seconds in range(1, 11):
            task = self.submit(email=f"p90.{seconds}@example.com")
            task.write(
                {
                    "state": "done",
                    "started_at": now - timedelta(seconds=seconds),
                    "duration": seconds,
                }
            )
            tasks |= task
        groups = tasks._read_group(
            [("id", "in", tasks.ids)],
            ["state"],
            ["__count", "duration:avg", "duration_p90:p90"],
        )
        self.assertEqual(len(groups), 1)
        state, count, average, p90 = groups[0]
        self.assertEqual((state, count), ("done", 10))
        self.assertAlmostEqual(average, 5.5)
        self.assertAlmostEqual(p90, 9.1)  # PERCENTILE_CONT between 9 and 10
        fields_info = tasks.fields_get(["duration_p90"], ["aggregator"])
        self.assertEqual(fields_info["duration_p90"]["aggregator"], "p90")
