import shutil
from datetime import timedelta

from odoo import Command
from odoo.tests import HttpCase, TransactionCase, new_test_user

from ..services.oauth_server import ACCESS_PREFIX
from ..services.quotation_service import QuotationService

SALESMAN = "sales_team.group_sale_salesman"
MANAGER = "odoo_mcp_quotation.group_quotation_task_manager"
# The names Odoo 18 looks for (odoo/tests/common.py, _find_executable).
BROWSERS = ("google-chrome", "chromium", "chromium-browser", "google-chrome-stable")


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


def api_key(user, name="tests"):
    """A new API key of ``user``, as its owner makes one in the preferences."""
    keys = user.env["res.users.apikeys"].with_user(user).sudo()
    return keys._generate(None, name, None)


CLAUDE_CALLBACK = "https://claude.com/api/mcp/auth_callback"
# what Claude registers (RFC 7591)
PUBLIC_CLIENT = {
    "client_name": "Claude",
    "redirect_uris": [CLAUDE_CALLBACK],
    "token_endpoint_auth_method": "none",
    "grant_types": ["authorization_code", "refresh_token"],
}


def oauth_token(user, resource, scopes="quotations:create", client=None):
    """A grant of ``user`` to ``client`` (else a new PUBLIC_CLIENT) and its
    access token, as the token endpoint leaves them."""
    env = user.env
    client = client or env["mcp.oauth.client"]._register_client(PUBLIC_CLIENT)[0]
    grant = env["mcp.oauth.grant"].create(
        {
            "client_id": client.id,
            "user_id": user.id,
            "scopes": scopes,
            "resource": resource,
            "connected": True,
        }
    )
    token = f"{ACCESS_PREFIX}{user.login}-{grant.id}"
    env["mcp.oauth.token"]._issue(grant, "access", token, timedelta(hours=1))
    return grant, token


def company_user(env, login, company, groups=SALESMAN):
    """A user who works for ``company`` alone."""
    return new_test_user(
        env,
        login=login,
        groups=groups,
        company_id=company.id,
        company_ids=[Command.set(company.ids)],
    )


class TestUsersMixin:
    """The users a test class declares, made once for the class.

    ``test_users = {attribute: {"login": ..., "groups": ..., ...}}``: each
    becomes ``cls.<attribute>``, with ``new_test_user``'s keyword arguments.
    """

    test_users = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for attribute, values in cls.test_users.items():
            setattr(cls, attribute, new_test_user(cls.env, **values))


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


class TourCase(HttpCase):
    """A salesperson's tour in a real browser, over requests an agent sent."""

    def tour_service(self, name, product_code, price):
        """Ready a tour: a product, and the service of the agent who asks for it.

        The tour's salesperson, ``omq_<name>_seller`` (password alike), reads
        English; the agent is ``omq_<name>_agent``.
        """
        # Odoo would skip a tour without a browser with a mere warning
        self.assertTrue(
            any(map(shutil.which, BROWSERS)),
            "the tour needs Chromium: apt-get install chromium (make test does it)",
        )
        self.env["product.product"].create(
            {"name": "Tour Desk", "default_code": product_code, "list_price": price}
        )
        agent = new_test_user(self.env, login=f"omq_{name}_agent", groups=SALESMAN)
        self.env["res.lang"]._activate_lang("en_US")  # the tour reads English
        new_test_user(
            self.env,
            login=f"omq_{name}_seller",
            password=f"omq_{name}_seller",
            groups=SALESMAN,
            lang="en_US",
        )
        return QuotationService(self.env(user=agent))

    def start_seller_tour(self, name, tour):
        self.start_tour("/odoo", tour, login=f"omq_{name}_seller")
