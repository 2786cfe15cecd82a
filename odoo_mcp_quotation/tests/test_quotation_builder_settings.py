from odoo.tests import new_test_user, tagged

from ..lib.settings import SETTINGS
from .common import SALESMAN, QuotationTaskCase, TestUsersMixin, company_user
from .smtp_server import MailServerMixin


@tagged("post_install", "-at_install")
class TestQuotationBuilderSettings(MailServerMixin, TestUsersMixin, QuotationTaskCase):
    """The Sales settings shape every quotation agents ask for."""

    test_users = {
        "salesperson": {
            "login": "omq_settings_seller",
            "groups": SALESMAN,
            "name": "Sara Seller",
        },
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.team = cls.env["crm.team"].create({"name": "AI Desk"})

    def _configure(self, **values):
        for key, value in values.items():
            self.env["ir.config_parameter"].set_param(SETTINGS[key].key, value)

    def test_without_settings_quotations_stay_unassigned(self):
        task = self.submit()
        self.process()
        self.assertEqual(task.state, "done", task.error)
        self.assertFalse(task.sale_order_id.user_id, "never the integration user")
        self.assertFalse(task.lead_id.user_id)
        self.assertFalse(task.user_id)
        self.assertEqual(task.sale_order_id.state, "draft")

    def test_configured_team_and_salesperson(self):
        self._configure(team_id=self.team.id, user_id=self.salesperson.id)
        task = self.submit()
        self.process()
        self.assertEqual(task.state, "done", task.error)
        for record in (task.lead_id, task.sale_order_id):
            with self.subTest(model=record._name):
                self.assertEqual(record.user_id, self.salesperson)
                self.assertEqual(record.team_id, self.team)
        self.assertEqual(task.user_id, self.salesperson)
        self.assertEqual(task.team_id, self.team)

    def test_customer_salesperson_comes_before_the_configured_one(self):
        own = new_test_user(
            self.env, login="omq_own_seller", groups="sales_team.group_sale_salesman"
        )
        self.env["res.partner"].create(
            {"name": "Ana", "email": "ana.garcia@example.com", "user_id": own.id}
        )
        self._configure(user_id=self.salesperson.id)
        task = self.submit()
        self.process()
        self.assertEqual(task.sale_order_id.user_id, own)

    def test_salesperson_or_team_of_another_company_is_ignored(self):
        other = self.env["res.company"].create({"name": "OMQ Elsewhere"})
        foreign_team = self.env["crm.team"].create(
            {"name": "Elsewhere", "company_id": other.id}
        )
        foreign_seller = company_user(self.env, "omq_foreign_seller", other)
        self._configure(team_id=foreign_team.id, user_id=foreign_seller.id)
        task = self.submit()
        self.assertNotIn(task.company_id, foreign_seller.company_ids)
        self.process()
        self.assertEqual(task.state, "done", task.error)
        self.assertNotEqual(task.sale_order_id.team_id, foreign_team)
        self.assertFalse(task.sale_order_id.user_id)
        self.assertFalse(task.lead_id.user_id)

    def test_configured_pricelist(self):
        pricelist = self.env["product.pricelist"].create(
            {
                "name": "AI Agents",
                "item_ids": [
                    (
                        0,
                        0,
                        {
                            "applied_on": "0_product_variant",
                            "product_id": self.desk.id,
                            "compute_price": "fixed",
                            "fixed_price": 450.0,
                        },
                    )
                ],
            }
        )
        self._configure(pricelist_id=pricelist.id)
        task = self.submit()
        self.process()
        order = task.sale_order_id
        self.assertEqual(order.pricelist_id, pricelist)
        self.assertAlmostEqual(order.amount_untaxed, 2 * 450 + 4 * 120)

    def test_quotation_is_emailed_when_enabled(self):
        self._configure(user_id=self.salesperson.id, send_quotation_email="True")
        task = self.submit()
        self.process()
        order = task.sale_order_id
        self.assertEqual(order.state, "sent")
        # by e-mail: the outgoing mail itself is gone once Odoo's test mode
        # "sent" it (Odoo's own runner), its notification stays
        to_customer = self.env["mail.notification"].search(
            [
                ("mail_message_id", "in", order.message_ids.ids),
                ("res_partner_id", "=", order.partner_id.id),
                ("notification_type", "=", "email"),
            ]
        )
        self.assertEqual(len(to_customer), 1)
        self.assertIn(order.name, to_customer.mail_message_id.subject)

    def test_customer_without_email_is_not_emailed(self):
        self._configure(send_quotation_email="True")
        task = self.submit(email=None)
        self.process()
        order = task.sale_order_id
        self.assertEqual(task.state, "done", task.error)
        self.assertEqual(order.state, "draft")
        self.assertFalse(
            self.env["mail.mail"].search(
                [("model", "=", "sale.order"), ("res_id", "=", order.id)]
            )
        )

    def test_no_email_by_default(self):
        task = self.submit()
        self.process()
        self.assertEqual(task.sale_order_id.state, "draft")
