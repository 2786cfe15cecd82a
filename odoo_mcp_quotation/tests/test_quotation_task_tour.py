import shutil

from odoo.tests import HttpCase, new_test_user, tagged

from ..services.quotation_service import QuotationService
from .common import quotation_payload

# The names Odoo 18 looks for (odoo/tests/common.py, _find_executable).
BROWSERS = ("google-chrome", "chromium", "chromium-browser", "google-chrome-stable")


@tagged("post_install", "-at_install")
class TestQuotationTaskTour(HttpCase):
    """A salesperson opens the list, a request and the graph in a real browser."""

    def test_tour_list_form_graph(self):
        # Odoo would skip a tour without a browser with a mere warning
        self.assertTrue(
            any(map(shutil.which, BROWSERS)),
            "the tour needs Chromium: apt-get install chromium (make test does it)",
        )
        self.env["product.product"].create(
            {"name": "Tour Desk", "default_code": "OMQ-TOUR-DESK", "list_price": 100}
        )
        agent = new_test_user(
            self.env, login="omq_tour_agent", groups="sales_team.group_sale_salesman"
        )
        self.env["res.lang"]._activate_lang("en_US")  # the tour reads English
        new_test_user(
            self.env,
            login="omq_tour_seller",
            password="omq_tour_seller",
            groups="sales_team.group_sale_salesman",
            lang="en_US",
        )
        service = QuotationService(self.env(user=agent))
        lines = [{"product": "OMQ-TOUR-DESK", "quantity": 3}]
        service.submit(
            quotation_payload(
                customer_name="Tour Done Customer",
                email="done@example.com",
                lines=lines,
            ),
            "rest",
        )
        service.submit(
            quotation_payload(
                customer_name="Tour Failed Customer",
                email="failed@example.com",
                lines=[{"product": "Flux Capacitor"}],
            ),
            "mcp",
        )
        self.env["quotation.task"]._process_due()
        self.start_tour("/odoo", "odoo_mcp_quotation_tour", login="omq_tour_seller")
