from odoo.tests import TransactionCase, new_test_user

from ..services.quotation_service import QuotationService


def quotation_payload(**overrides):
    """A valid request as an agent sends it; keyword arguments replace fields."""
    payload = {
        "customer_name": "Ana García",
        "email": "ana.garcia@example.com",
        "phone": "+34 600 111 222",
        "company_name": "García Muebles",
        "notes": "Needs them before March.",
        "lines": [
            {"product": "OMQ-DESK", "quantity": 2},
            {"product": "Ergonomic Chair", "quantity": 4},
        ],
    }
    payload.update(overrides)
    return payload


class QuotationTaskCase(TransactionCase):
    """Products to quote, an API user in the Sales group, and helpers."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # English messages whatever the database's default language
        cls.env = cls.env(
            context=dict(cls.env.context, tracking_disable=False, lang="en_US")
        )
        cls.api_user = new_test_user(
            cls.env,
            login="omq_agent",
            groups="sales_team.group_sale_salesman,base.group_user",
            name="Voice Agent",
        )
        Product = cls.env["product.product"]
        cls.desk = Product.create(
            {
                "name": "Standing Desk",
                "default_code": "OMQ-DESK",
                "list_price": 500.0,
                "barcode": "4006381333931",
            }
        )
        cls.chair = Product.create({"name": "Ergonomic Chair", "list_price": 120.0})
        cls.lamp_small = Product.create({"name": "OMQ Lamp Small", "list_price": 20.0})
        cls.lamp_large = Product.create({"name": "OMQ Lamp Large", "list_price": 35.0})
        cls.service = QuotationService(
            cls.env["quotation.task"].with_user(cls.api_user).env
        )

    def submit(self, channel="rest", idempotency_key=None, **overrides):
        """Submit as the API user; the task comes back in the superuser's env."""
        task = self.service.submit(
            quotation_payload(**overrides), channel, idempotency_key
        )
        return task.with_env(self.env)

    def process(self):
        """Run the queue as the cron does, without committing the test transaction."""
        return self.env["quotation.task"]._process_due()
