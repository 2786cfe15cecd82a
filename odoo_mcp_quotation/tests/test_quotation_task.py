from datetime import timedelta

from odoo import fields
from odoo.exceptions import MissingError
from odoo.tests import tagged

from ..compat import USER_GROUPS
from ..lib.request_schema import RequestInvalid
from ..models.quotation_task import _last_wake_up
from ..services.quotation_service import QuotationService
from .common import QuotationTaskCase


@tagged("post_install", "-at_install")
class TestQuotationTask(QuotationTaskCase):
    def test_task_is_queued_with_an_unguessable_tracking_id(self):
        task = self.submit()
        other = self.submit(email="someone.else@example.com")
        self.assertEqual(task.state, "pending")
        self.assertEqual(len(task.tracking_id), 32)
        self.assertNotEqual(task.tracking_id, other.tracking_id)
        self.assertEqual(task.requested_by_id, self.api_user)
        self.assertEqual(task.channel, "rest")
        self.assertEqual(
            task.line_ids.mapped("product_ref"), ["OMQ-DESK", "Ergonomic Chair"]
        )
        self.assertEqual(task.request_payload["customer_name"], "Ana García")

    def test_processing_builds_customer_opportunity_and_draft_quotation(self):
        task = self.submit(channel="mcp")
        self.process()
        self.assertEqual(task.state, "done", task.error)
        partner, lead, order = task.partner_id, task.lead_id, task.sale_order_id
        self.assertEqual(partner.name, "Ana García")
        self.assertEqual(partner.email, "ana.garcia@example.com")
        self.assertEqual(partner.parent_id.name, "García Muebles")
        self.assertTrue(partner.parent_id.is_company)
        self.assertEqual(lead.type, "opportunity")
        self.assertEqual(lead.partner_id, partner)
        self.assertIn("before March", lead.description)
        self.assertEqual(lead.source_id.name, "AI Agent")
        self.assertEqual(lead.medium_id.name, "LLM Client (MCP)")
        self.assertEqual(order.state, "draft")
        self.assertEqual(order.opportunity_id, lead)
        self.assertEqual(order.partner_id, partner)
        self.assertEqual(order.company_id, task.company_id)
        self.assertEqual(order.origin, task.tracking_id)
        self.assertEqual(
            [(line.product_id, line.product_uom_qty) for line in order.order_line],
            [(self.desk, 2.0), (self.chair, 4.0)],
        )
        self.assertAlmostEqual(order.amount_untaxed, 2 * 500 + 4 * 120)
        self.assertEqual(task.amount_total, order.amount_total)
        self.assertEqual(task.currency_id, order.currency_id)
        self.assertEqual(task.line_ids.mapped("product_id"), self.desk | self.chair)
        self.assertEqual(task.attempts, 1)
        self.assertTrue(task.done_at >= task.started_at)
        self.assertIn(order.name, task.message_ids[0].body)

    def test_each_attempt_is_timed_from_its_own_start(self):
        """Creation, start and end in order, to the microsecond, task by task."""
        first = self.submit()
        second = self.submit(email="second@example.com")
        self.process()
        for task in first | second:
            self.assertEqual(task.state, "done", task.error)
            self.assertGreaterEqual(task.started_at, task.create_date)
            self.assertGreater(task.done_at, task.started_at)
            self.assertAlmostEqual(
                task.duration, (task.done_at - task.started_at).total_seconds()
            )
        self.assertGreaterEqual(
            second.started_at, first.done_at, "one batch, built one after the other"
        )

    def test_status_summary_for_agents(self):
        task = self.submit()
        self.assertEqual(self.service.status(task.tracking_id)["status"], "pending")
        self.process()
        status = self.service.status(task.tracking_id)
        self.assertEqual(status["status"], "done")
        self.assertEqual(status["order_reference"], task.sale_order_id.name)
        self.assertAlmostEqual(status["total"], task.sale_order_id.amount_total)
        self.assertIn("/my/orders/", status["portal_url"])
        self.assertIn("access_token=", status["portal_url"])

    def test_customer_is_found_by_email_case_insensitively_then_by_phone(self):
        existing = self.env["res.partner"].create(
            {"name": "Ana G.", "email": "Ana.Garcia@Example.com"}
        )
        by_phone = self.env["res.partner"].create(
            {"name": "Luis", "phone": "+34 600 999 888"}
        )
        first = self.submit(email="ANA.GARCIA@example.com")
        second = self.submit(email=None, phone="+34600999888", customer_name="Luis P.")
        self.process()
        self.assertEqual(first.partner_id, existing)
        self.assertEqual(second.partner_id, by_phone)

    def test_same_email_never_creates_a_second_customer(self):
        tasks = self.submit() | self.submit(customer_name="Ana Garcia Lopez")
        self.process()
        self.assertEqual(tasks.mapped("state"), ["done", "done"])
        self.assertEqual(len(tasks.partner_id), 1)
        self.assertEqual(
            self.env["res.partner"].search_count(
                [("email_normalized", "=", "ana.garcia@example.com")]
            ),
            1,
        )

    def test_product_resolution_order(self):
        task = self.submit(
            lines=[
                {"product": "4006381333931"},  # barcode
                {"product": "ergonomic chair"},  # case-insensitive name
                {"product": "omq-desk"},  # case-insensitive reference
                {"product": "Lamp Large"},  # unique partial match
            ]
        )
        self.process()
        self.assertEqual(task.state, "done", task.error)
        self.assertEqual(
            [line.product_id.id for line in task.sale_order_id.order_line],
            [self.desk.id, self.chair.id, self.desk.id, self.lamp_large.id],
        )

    def test_unknown_and_ambiguous_products_fail_without_half_built_records(self):
        orders_before = self.env["sale.order"].search_count([])
        partners_before = self.env["res.partner"].search_count([])
        task = self.submit(
            lines=[
                {"product": "OMQ-DESK"},
                {"product": "Flux Capacitor"},
                {"product": "OMQ Lamp"},
            ]
        )
        self.process()
        self.assertEqual(task.state, "failed")
        self.assertEqual(task.attempts, 1, "a request problem is not retried")
        self.assertIn('line 2 ("Flux Capacitor"): no product matches', task.error)
        self.assertIn('line 3 ("OMQ Lamp"): 2 products match', task.error)
        self.assertIn("OMQ Lamp Small", task.error)
        self.assertNotIn("line 1", task.error)
        self.assertFalse(task.sale_order_id or task.partner_id or task.lead_id)
        self.assertEqual(self.env["sale.order"].search_count([]), orders_before)
        self.assertEqual(self.env["res.partner"].search_count([]), partners_before)

    def test_one_bad_task_does_not_roll_back_another(self):
        good = self.submit()
        bad = self.submit(lines=[{"product": "Flux Capacitor"}])
        self.process()
        self.assertEqual(good.state, "done")
        self.assertEqual(bad.state, "failed")
        self.assertTrue(good.sale_order_id.exists())

    def test_unexpected_error_is_retried_with_exponential_backoff(self):
        task = self.submit()
        # the requester lost the right to create quotations: an error from the ORM
        self.api_user[USER_GROUPS] = self.env.ref("base.group_user")
        task.max_attempts = 3
        delays = []
        for attempt in range(1, 4):
            before = fields.Datetime.now()
            self.process()
            self.assertEqual(task.attempts, attempt)
            if attempt < 3:
                self.assertEqual(task.state, "pending")
                delays.append((task.next_attempt_at - before).total_seconds())
                task.next_attempt_at = fields.Datetime.now() - timedelta(seconds=1)
        self.assertEqual(task.state, "failed")
        self.assertIn("AccessError", task.error)
        self.assertAlmostEqual(delays[0], 10, delta=2)
        self.assertAlmostEqual(delays[1], 20, delta=2)

    def test_task_waits_for_its_next_attempt(self):
        task = self.submit()
        task._set_pending(delay=timedelta(minutes=5))
        self.assertFalse(self.process())
        self.assertEqual(task.state, "pending")

    def test_expired_lease_is_requeued_and_resumed_without_duplicates(self):
        task = self.submit()
        self.process()
        partner, lead, order = task.partner_id, task.lead_id, task.sale_order_id
        # a worker killed after building, before recording the result
        task.write(
            {
                "state": "processing",
                "lease_until": fields.Datetime.now() - timedelta(seconds=1),
            }
        )
        self.env["quotation.task"]._requeue_stuck()
        self.assertEqual(task.state, "pending")
        self.assertIn("stopped before it finished", task.error)
        self.assertTrue(task.next_attempt_at, "a task that killed its worker backs off")
        task.next_attempt_at = fields.Datetime.now() - timedelta(seconds=1)
        self.process()
        self.assertEqual(task.state, "done")
        self.assertEqual(task.attempts, 2)
        self.assertEqual(
            (task.partner_id, task.lead_id, task.sale_order_id), (partner, lead, order)
        )
        self.assertEqual(
            self.env["sale.order"].search_count([("origin", "=", task.tracking_id)]), 1
        )
        self.assertEqual(
            self.env["crm.lead"].search_count([("partner_id", "=", partner.id)]), 1
        )

    def test_status_of_a_stalled_task_wakes_the_crons(self):
        _last_wake_up.clear()  # no wake-up from another test in this process
        task = self.submit()
        lane = self.env.ref("odoo_mcp_quotation.ir_cron_process_quotation_tasks")
        triggers = self.env["ir.cron.trigger"]
        # a worker took the creation trigger, then died before the task was built
        triggers.search([("cron_id", "=", lane.id)]).unlink()
        before = triggers.search_count([("cron_id", "=", lane.id)])

        def received(seconds_ago):
            # create_date is the test transaction's start, which may be long ago
            self.env.cr.execute(
                "UPDATE quotation_task SET create_date = %s WHERE id = %s",
                [fields.Datetime.now() - timedelta(seconds=seconds_ago), task.id],
            )
            task.invalidate_recordset(["create_date"])

        received(0)
        self.service.status(task.tracking_id)  # fresh: the creation trigger is enough
        self.assertEqual(triggers.search_count([("cron_id", "=", lane.id)]), before)
        received(60)
        self.service.status(task.tracking_id)
        self.assertEqual(triggers.search_count([("cron_id", "=", lane.id)]), before + 1)
        for _poll in range(5):  # an agent or a load balancer polling: rate-limited
            self.service.status(task.tracking_id)
        self.assertEqual(triggers.search_count([("cron_id", "=", lane.id)]), before + 1)
        for _process in range(5):  # other processes: the due trigger is enough
            _last_wake_up.clear()
            self.service.status(task.tracking_id)
        self.assertEqual(triggers.search_count([("cron_id", "=", lane.id)]), before + 1)

    def test_a_retry_is_scheduled_at_its_backoff(self):
        task = self.submit()
        self.api_user[USER_GROUPS] = self.env.ref("base.group_user")
        self.process()
        lane = self.env.ref("odoo_mcp_quotation.ir_cron_process_quotation_tasks")
        self.assertEqual(task.state, "pending")
        self.assertTrue(
            self.env["ir.cron.trigger"].search_count(
                [("cron_id", "=", lane.id), ("call_at", "=", task.next_attempt_at)]
            )
        )

    def test_live_lease_is_left_alone(self):
        task = self.submit()
        task.write(
            {
                "state": "processing",
                "lease_until": fields.Datetime.now() + timedelta(minutes=5),
            }
        )
        self.process()
        self.assertEqual(task.state, "processing")

    def test_idempotency_key_returns_the_same_task(self):
        first = self.submit(idempotency_key="call-42")
        again = self.submit(idempotency_key="call-42", customer_name="Someone Else")
        by_conversation = self.submit(conversation_id="conv-7")
        conversation_again = self.submit(conversation_id="conv-7")
        self.assertEqual(first, again)
        self.assertEqual(by_conversation, conversation_again)
        self.assertEqual(
            self.env["quotation.task"].search_count(
                [("requested_by_id", "=", self.api_user.id)]
            ),
            2,
        )

    def test_idempotency_key_is_per_user(self):
        mine = self.submit(idempotency_key="call-42")
        other_user = self.api_user.copy({"login": "omq_other"})
        theirs = QuotationService(self.env(user=other_user)).submit(
            {
                "customer_name": "B",
                "email": "b@example.com",
                "lines": [{"product": "OMQ-DESK"}],
            },
            "rest",
            "call-42",
        )
        self.assertNotEqual(mine, theirs)

    def test_bad_requests_are_rejected_with_every_problem_and_create_nothing(self):
        before = self.env["quotation.task"].search_count([])
        bad_requests = [
            {},
            {"customer_name": "A", "email": "nope", "lines": [{"product": "X"}]},
            {
                "customer_name": "A",
                "email": "a@b.co",
                "lines": [{"product": "X", "quantity": -1}],
            },
            {"customer_name": "A", "email": "a@b.co", "lines": [], "extra": True},
        ]
        expected_fields = [
            {"customer_name", "lines"},
            {"email"},
            {"lines[0].quantity"},
            {"lines", "extra"},
        ]
        for payload, fields_ in zip(bad_requests, expected_fields, strict=True):
            with (
                self.subTest(payload=payload),
                self.assertRaises(RequestInvalid) as caught,
            ):
                self.service.submit(payload, "rest")
            self.assertEqual({p["field"] for p in caught.exception.problems}, fields_)
        self.assertEqual(self.env["quotation.task"].search_count([]), before)

    def test_other_users_tasks_are_not_found(self):
        task = self.submit()
        other_user = self.api_user.copy({"login": "omq_other2"})
        with self.assertRaises(MissingError):
            QuotationService(self.env(user=other_user)).status(task.tracking_id)

    def test_retry_and_cancel_actions(self):
        task = self.submit(lines=[{"product": "Flux Capacitor"}])
        self.process()
        self.assertEqual(task.state, "failed")
        self.env["product.product"].create({"name": "Flux Capacitor"})
        task.action_retry()
        self.assertEqual((task.state, task.attempts, task.error), ("pending", 0, False))
        self.process()
        self.assertEqual(task.state, "done")
        pending = self.submit()
        pending.action_cancel()
        self.assertEqual(pending.state, "cancelled")
        self.process()
        self.assertEqual(pending.state, "cancelled")
