from odoo import Command
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import new_test_user, tagged

from ..services.quotation_service import QuotationService
from .common import (
    MANAGER,
    SALESMAN,
    QuotationTaskCase,
    TestUsersMixin,
    company_user,
    quotation_payload,
)

SALESMAN_ALL = "sales_team.group_sale_salesman_all_leads"


@tagged("post_install", "-at_install")
class TestQuotationTaskSecurity(TestUsersMixin, QuotationTaskCase):
    """Who sees and changes AI requests: following the Sales groups."""

    test_users = {
        "alice": {"login": "omq_alice", "groups": SALESMAN},
        "bob": {"login": "omq_bob", "groups": SALESMAN},
        "all_docs": {"login": "omq_all", "groups": SALESMAN_ALL},
        "manager": {"login": "omq_manager", "groups": f"{SALESMAN},{MANAGER}"},
        "portal": {"login": "omq_portal", "groups": "base.group_portal"},
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.public = cls.env.ref("base.public_user")

    def _tasks_seen_by(self, user):
        return self.env["quotation.task"].with_user(user).search([]).with_env(self.env)

    def test_salespeople_see_AI_requests_through_their_sales_group(self):
        self.assertTrue(
            self.alice.has_group("odoo_mcp_quotation.group_quotation_task_user")
        )
        self.assertTrue(
            self.env.ref("base.user_admin").has_group(
                "odoo_mcp_quotation.group_quotation_task_manager"
            )
        )

    def test_own_documents_salesperson_sees_own_and_unassigned_only(self):
        for_alice = self.submit(email="a1@example.com")
        for_bob = self.submit(email="b1@example.com")
        unassigned = self.submit(email="u1@example.com")
        self.process()
        for_alice.sale_order_id.user_id = self.alice
        for_bob.sale_order_id.user_id = self.bob
        unassigned.sale_order_id.user_id = False
        self.assertEqual(for_alice.user_id, self.alice, "follows the quotation")

        seen = self._tasks_seen_by(self.alice)
        self.assertIn(for_alice, seen)
        self.assertIn(unassigned, seen)
        self.assertNotIn(for_bob, seen)
        with self.assertRaises(AccessError):
            for_bob.with_user(self.alice).read(["customer_name"])
        with self.assertRaises(AccessError):
            for_bob.line_ids.with_user(self.alice).read(["product_ref"])

        self.assertLessEqual(
            for_alice | for_bob | unassigned, self._tasks_seen_by(self.all_docs)
        )
        self.assertLessEqual(
            for_alice | for_bob | unassigned, self._tasks_seen_by(self.manager)
        )

    def test_integration_user_creates_and_reads_its_own_requests(self):
        task = self.submit()
        self.process()
        self.assertEqual(task.state, "done", task.error)
        task.sale_order_id.user_id = self.bob  # assigned to someone else
        status = self.service.status(task.tracking_id)
        self.assertEqual(status["status"], "done")

    def test_only_managers_retry_cancel_and_correct(self):
        task = self.submit(lines=[{"product": "Flux Capacitor"}])
        self.process()
        self.assertEqual(task.state, "failed")
        for user in (self.alice, self.all_docs):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                task.with_user(user).action_retry()
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                task.line_ids.with_user(user).product_ref = "OMQ-DESK"
        self.assertEqual(task.state, "failed")

        # the manager fixes what the agent misheard, then retries
        as_manager = task.with_user(self.manager)
        as_manager.line_ids.product_ref = "OMQ-DESK"
        as_manager.action_retry()
        self.process()
        self.assertEqual(task.state, "done", task.error)
        self.assertEqual(task.sale_order_id.order_line.product_id, self.desk)

        pending = self.submit(email="p@example.com")
        with self.assertRaises(AccessError):
            pending.with_user(self.alice).action_cancel()
        pending.with_user(self.manager).action_cancel()
        self.assertEqual(pending.state, "cancelled")

    def test_salespeople_discuss_a_request_they_cannot_change(self):
        task = self.submit()
        task.with_user(self.alice).message_post(
            body="Called the customer back.", message_type="comment"
        )
        self.assertIn("Called the customer back.", task.message_ids[0].body)

    def test_portal_and_public_users_see_nothing(self):
        task = self.submit()
        for user in (self.portal, self.public):
            Task = self.env["quotation.task"].with_user(user)
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                Task.search([])
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                task.with_user(user).read(["customer_name"])
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                task.line_ids.with_user(user).read(["product_ref"])
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                QuotationService(Task.env).submit(quotation_payload(), "rest")

    def test_salesperson_of_company_a_sees_nothing_of_company_b(self):
        company_b = self.env["res.company"].create({"name": "OMQ Company B"})
        agent_b = company_user(self.env, "omq_agent_b", company_b, SALESMAN_ALL)
        task_b = QuotationService(self.env(user=agent_b)).submit(
            quotation_payload(email="b@example.com"), "rest"
        )
        task_b = task_b.with_env(self.env)
        self.assertEqual(task_b.company_id, company_b)
        task_a = self.submit()
        seller_a = new_test_user(
            self.env, login="omq_seller_a", groups=f"{SALESMAN_ALL},{MANAGER}"
        )
        self.assertNotIn(company_b, seller_a.company_ids)
        seen = self._tasks_seen_by(seller_a)
        self.assertIn(task_a, seen)
        self.assertNotIn(task_b, seen)
        with self.assertRaises(AccessError):
            task_b.with_user(seller_a).read(["customer_name"])
        with self.assertRaises(AccessError):
            task_b.line_ids.with_user(seller_a).read(["product_ref"])
        lines_seen = self.env["quotation.task.line"].with_user(seller_a).search([])
        self.assertFalse(lines_seen & task_b.line_ids)


@tagged("post_install", "-at_install")
class TestEngineFieldsBackDoor(TestUsersMixin, QuotationTaskCase):
    """The ORM is a door too: the UI, XML-RPC and JSON-RPC all call create/write."""

    test_users = {
        "bob": {"login": "omq_bob2", "groups": SALESMAN},
        "manager": {"login": "omq_manager2", "groups": MANAGER},
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = cls.env.ref("base.user_admin")

    def count(self):
        return (
            self.env["quotation.task"].search_count([]),
            self.env["quotation.task.line"].search_count([]),
        )

    def test_nobody_forges_engine_fields_on_create(self):
        Tasks = self.env["quotation.task"].with_user(self.api_user)
        before = self.count()
        for forged in (
            {"requested_by_id": self.admin.id},
            {"state": "done"},
            {"tracking_id": "../../forged"},
            {"attempts": 99},
            {"sale_order_id": 1},
            {"channel": "rest", "idempotency_key": "call-42"},
            {"done_at": "2020-01-01 00:00:00"},
        ):
            with (
                self.subTest(forged=forged),
                self.assertRaisesRegex(AccessError, "Odoo sets these fields"),
            ):
                Tasks.create({"customer_name": "Eve", **forged})
        self.assertEqual(self.count(), before)

    def test_a_plain_task_from_the_ui_gets_the_engine_fields_from_odoo(self):
        task = (
            self.env["quotation.task"]
            .with_user(self.api_user)
            .create(
                {
                    "customer_name": "  Jose\u0301  ",
                    "line_ids": [Command.create({"product_ref": "OMQ-DESK"})],
                }
            )
        )
        self.assertEqual(task.requested_by_id, self.api_user)
        self.assertEqual(
            (task.state, task.channel, task.attempts), ("pending", "ui", 0)
        )
        self.assertRegex(task.tracking_id, r"^[0-9a-f]{32}$")
        self.assertEqual(task.customer_name, "  José  ", "NFC, as the API stores it")

    def test_control_characters_are_refused_at_the_orm_too(self):
        Tasks = self.env["quotation.task"].with_user(self.api_user)
        before = self.count()
        with self.assertRaisesRegex(ValidationError, "U\\+0000"):
            Tasks.create({"customer_name": "Eve\x00"})
        task = self.submit()
        with self.assertRaisesRegex(ValidationError, "U\\+202E"):
            task.with_user(self.manager).write({"customer_name": "\u202eEve"})
        self.assertEqual(self.count()[0], before[0] + 1)

    def test_not_even_a_manager_writes_the_state_or_the_requester(self):
        task = self.submit()
        for forged in (
            {"state": "done"},
            {"requested_by_id": self.manager.id},
            {"tracking_id": "0" * 32},
            {"max_attempts": 1000},
            {"user_id": self.manager.id},
        ):
            with self.subTest(forged=forged), self.assertRaises(AccessError):
                task.with_user(self.manager).write(forged)
        self.assertEqual(
            (task.state, task.requested_by_id, task.max_attempts),
            ("pending", self.api_user, 5),
        )
        with self.assertRaises(AccessError):
            task.with_user(self.manager).copy()

    def test_lines_go_only_to_ones_own_pending_request(self):
        theirs = QuotationService(self.env(user=self.bob)).submit(
            quotation_payload(email="bob@example.com"), "rest"
        )
        mine = self.submit()
        Lines = self.env["quotation.task.line"].with_user(self.api_user)
        before = self.count()
        with self.assertRaisesRegex(AccessError, "your own pending requests"):
            Lines.create({"task_id": theirs.id, "product_ref": "OMQ-DESK"})
        with self.assertRaisesRegex(AccessError, "product_id"):
            Lines.create(
                {"task_id": mine.id, "product_ref": "X", "product_id": self.desk.id}
            )
        self.assertEqual(self.count(), before)
        Lines.create({"task_id": mine.id, "product_ref": "OMQ-DESK"})
        self.assertEqual(len(mine.line_ids), 3)
        with self.assertRaisesRegex(AccessError, "cannot move"):
            mine.line_ids[0].with_user(self.manager).task_id = theirs.id

    def test_the_state_machine_still_runs_for_a_manager_and_the_mcp_cancel(self):
        task = self.submit(lines=[{"product": "Flux Capacitor"}])
        self.process()
        self.assertEqual(task.state, "failed")
        task.with_user(self.manager).action_retry()
        self.assertEqual((task.state, task.attempts), ("pending", 0))
        task.with_user(self.api_user).sudo().action_cancel()
        self.assertEqual(task.state, "cancelled")
