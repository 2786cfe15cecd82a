from odoo.tests import tagged

from .common import TourCase, quotation_payload


@tagged("post_install", "-at_install")
class TestQuotationTaskTour(TourCase):
    """A salesperson opens the list, a request and the graph in a real browser."""

    def test_tour_list_form_graph(self):
        service = self.tour_service("tour", "OMQ-TOUR-DESK", 100)
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
        self.start_seller_tour("tour", "odoo_mcp_quotation_tour")
