from contextlib import contextmanager
from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged

from ..lib.settings import SETTINGS
from .common import SALESMAN, QuotationTaskCase, TestUsersMixin


@contextmanager
def report_engine_missing(env):
    """The report engine as on a server without wkhtmltopdf: PDFs rendered
    for real (Odoo's test mode renders HTML), the binary reported missing."""
    report_class = type(env["ir.actions.report"])
    with patch.object(report_class, "get_wkhtmltopdf_state", return_value="install"):
        yield


@tagged("post_install", "-at_install")
class TestQuotationSend(TestUsersMixin, QuotationTaskCase):
    """E-mailing a quotation never undoes it: a failed send is kept and retried."""

    test_users = {
        "salesperson": {
            "login": "omq_send_seller",
            "groups": SALESMAN,
            "name": "Sam Seller",
        },
    }

    def setUp(self):
        super().setUp()
        for key, value in (
            ("user_id", self.salesperson.id),
            ("send_quotation_email", "True"),
        ):
            self.env["ir.config_parameter"].set_param(SETTINGS[key].key, value)

    def _emails_to_customer(self, order):
        return self.env["mail.notification"].search(
            [
                ("mail_message_id", "in", order.message_ids.ids),
                ("res_partner_id", "=", order.partner_id.id),
                ("notification_type", "=", "email"),
            ]
        )

    def test_failed_send_keeps_the_quotation_and_is_retried_once(self):
        task = self.submit()
        rendering = self.env(
            context=dict(self.env.context, force_report_rendering=True)
        )
        with report_engine_missing(self.env):
            self.env["quotation.task"].with_env(rendering)._process_due()
        order = task.sale_order_id
        self.assertEqual(task.state, "done", task.error)
        self.assertTrue(order.exists())
        self.assertEqual(order.state, "draft")
        self.assertFalse(self._emails_to_customer(order))
        # visible on the task, on the quotation and in the agent's answer
        self.assertEqual(task.send_state, "to_send")
        self.assertIn("Wkhtmltopdf", task.send_error)
        self.assertTrue(
            order.message_ids.filtered(
                lambda m: "could not be e-mailed" in (m.body or "")
            )
        )
        answer = self.service.status(task.tracking_id)
        self.assertEqual(answer["status"], "done")
        self.assertEqual(answer["email"], "to_send")
        self.assertIn("Wkhtmltopdf", answer["email_error"])
        self.assertIn("not been e-mailed", answer["message"])
        # the queue retries it on its own once the back-off has passed
        send = task.send_ids
        self.assertEqual(send.state, "pending")
        self.assertTrue(send.next_attempt_at)
        send.next_attempt_at = fields.Datetime.now() - timedelta(seconds=1)
        self.env["quotation.send"]._process_due()
        self.assertEqual(send.state, "sent")
        self.assertEqual(order.state, "sent")
        self.assertEqual(len(self._emails_to_customer(order)), 1)
        self.assertEqual(self.service.status(task.tracking_id)["email"], "sent")
        # nothing left to send: a later run sends nothing more
        self.env["quotation.send"]._process_due()
        self.assertEqual(len(self._emails_to_customer(order)), 1)

    def test_send_follows_the_build(self):
        task = self.submit()
        self.process()
        self.assertEqual(task.send_state, "sent")
        self.assertEqual(task.sale_order_id.state, "sent")
        answer = self.service.status(task.tracking_id)
        self.assertEqual(answer["email"], "sent")
        self.assertNotIn("not been e-mailed", answer["message"])
