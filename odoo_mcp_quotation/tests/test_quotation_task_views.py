from datetime import timedelta

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import new_test_user, tagged

from .common import QuotationTaskCase

VIEW_TYPES = ["list", "kanban", "form", "search", "graph", "pivot"]


@tagged("post_install", "-at_install")
class TestQuotationTaskViews(QuotationTaskCase):
    """Every view, menu and button a salesperson touches."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.salesperson = new_test_user(
            cls.env, login="omq_views_seller", groups="sales_team.group_sale_salesman"
        )
        cls.employee = new_test_user(
            cls.env, login="omq_views_employee", groups="base.group_user"
        )

    def test_every_task_view_loads_for_salespeople(self):
        for action_xmlid in (
            "odoo_mcp_quotation.action_quotation_task",
            "odoo_mcp_quotation.action_quotation_task_analysis",
        ):
            action = self.env["ir.actions.act_window"]._for_xml_id(action_xmlid)
            self.assertEqual(action["res_model"], "quotation.task")
        Task = self.env["quotation.task"].with_user(self.salesperson)
        views = Task.get_views([(False, view_type) for view_type in VIEW_TYPES])
        self.assertEqual(set(views["views"]), set(VIEW_TYPES))
        form = views["views"]["form"]["arch"]
        for expected in (
            "action_open_quotation",
            "request_payload_pretty",
            "next_attempt_at",
            "chatter",
        ):
            self.assertIn(expected, form)
        self.assertNotIn("action_retry", form, "retry is for managers only")
        manager_form = self.env["quotation.task"].get_views([(False, "form")])
        self.assertIn("action_retry", manager_form["views"]["form"]["arch"])
        search = views["views"]["search"]["arch"]
        for name in ("failed_today", "slow", "mine", "channel_rest", "group_day"):
            self.assertIn(f'name="{name}"', search)

    def test_smart_buttons_load_only_for_those_who_see_tasks(self):
        for model in ("sale.order", "crm.lead", "res.partner"):
            arch = (
                self.env[model]
                .with_user(self.salesperson)
                .get_views([(False, "form")])["views"]["form"]["arch"]
            )
            self.assertIn("action_view_quotation_tasks", arch, model)
        partner_arch = (
            self.env["res.partner"]
            .with_user(self.employee)
            .get_views([(False, "form")])["views"]["form"]["arch"]
        )
        self.assertNotIn("action_view_quotation_tasks", partner_arch)

    def test_settings_view_loads(self):
        arch = self.env["res.config.settings"].get_views([(False, "form")])["views"][
            "form"
        ]["arch"]
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
            self.assertIn(name, arch)

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
