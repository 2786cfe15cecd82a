from contextlib import contextmanager
from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import MissingError, UserError
from odoo.tests import tagged

from ..lib.request_schema import RequestInvalid
from ..lib.settings import SETTINGS
from ..services.quotation_service import QuotationService
from .common import SALESMAN, QuotationTaskCase, TestUsersMixin
from .smtp_server import MailServerMixin


@contextmanager
def report_engine_missing(env):
    """The report engine as on a server without wkhtmltopdf: PDFs rendered
    for real (Odoo's test mode renders HTML), the binary reported missing."""
    report_class = type(env["ir.actions.report"])
    with patch.object(report_class, "get_wkhtmltopdf_state", return_value="install"):
        yield


@tagged("post_install", "-at_install")
class TestQuotationSend(MailServerMixin, TestUsersMixin, QuotationTaskCase):
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


@tagged("post_install", "-at_install")
class TestSendQuotation(MailServerMixin, TestUsersMixin, QuotationTaskCase):
    """send_quotation: one's own quotation, confirmed, one e-mail per request."""

    test_users = {
        "salesperson": {
            "login": "omq_send_seller2",
            "groups": SALESMAN,
            "name": "Sue Seller",
        },
        "other_agent": {"login": "omq_send_other", "groups": SALESMAN},
    }

    def setUp(self):
        super().setUp()
        self.env["ir.config_parameter"].set_param(
            SETTINGS["user_id"].key, self.salesperson.id
        )
        self.task = self.submit()
        self.process()
        self.order = self.task.sale_order_id
        self.assertEqual(self.order.state, "draft")  # not e-mailed by default

    def emails(self):
        return self.env["mail.notification"].search(
            [
                ("mail_message_id", "in", self.order.message_ids.ids),
                ("res_partner_id", "=", self.order.partner_id.id),
                ("notification_type", "=", "email"),
            ]
        )

    def test_sends_once_per_confirmed_request_as_the_salesperson(self):
        answer = self.service.send_quotation(
            {"quotation": self.order.name, "confirm": True}
        )
        self.assertEqual(answer["email"], "sent")
        self.assertIn(self.order.name, answer["message"])
        self.assertEqual(self.order.state, "sent")
        email = self.emails()
        self.assertEqual(len(email), 1)
        self.assertEqual(email.mail_message_id.author_id, self.salesperson.partner_id)
        self.assertIn(self.order.name, email.mail_message_id.subject)
        # by tracking id, a second explicit request: a second e-mail
        self.service.send_quotation(
            {"quotation": self.task.tracking_id, "confirm": True}
        )
        self.assertEqual(len(self.emails()), 2)

    def test_refusals_send_nothing(self):
        with self.assertRaisesRegex(UserError, "ask the person to confirm"):
            self.service.send_quotation({"quotation": self.order.name})
        with self.assertRaisesRegex(UserError, "ask the person to confirm"):
            self.service.send_quotation(
                {"quotation": self.order.name, "confirm": False}
            )
        with self.assertRaises(RequestInvalid):
            self.service.send_quotation({"quotation": "", "confirm": True})
        other = QuotationService(self.env(user=self.other_agent))
        with self.assertRaises(MissingError):
            other.send_quotation({"quotation": self.order.name, "confirm": True})
        self.assertFalse(self.emails())
        self.assertFalse(self.env["quotation.send"].search([]))
        for state in ("sale", "cancel"):
            with self.subTest(state=state):
                self.order.state = state
                with self.assertRaisesRegex(UserError, "Nothing was sent"):
                    self.service.send_quotation(
                        {"quotation": self.order.name, "confirm": True}
                    )
        self.assertFalse(self.emails())
