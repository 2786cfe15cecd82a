from odoo import Command
from odoo.tests import tagged

from .common import QuotationTaskCase


@tagged("post_install", "-at_install")
class TestOpportunityRevenue(QuotationTaskCase):
    """The opportunity of an agent's quotation shows what the quotation is worth."""

    def setUp(self):
        super().setUp()
        self.task = self.submit()  # 2 desks at 500, 4 chairs at 120
        self.process()
        self.assertEqual(self.task.state, "done", self.task.error)
        self.lead, self.order = self.task.lead_id, self.task.sale_order_id

    def test_expected_revenue_follows_its_quotations(self):
        self.assertAlmostEqual(self.order.amount_untaxed, 1480.0)
        self.assertAlmostEqual(self.lead.expected_revenue, 1480.0)
        # changed: a line's quantity, a line added, a line removed
        desk_line = self.order.order_line.filtered(
            lambda line: line.product_id == self.desk
        )
        desk_line.product_uom_qty = 3
        self.assertAlmostEqual(self.lead.expected_revenue, 1980.0)
        self.order.write(
            {"order_line": [Command.create({"product_id": self.lamp_small.id})]}
        )
        self.assertAlmostEqual(self.lead.expected_revenue, 2000.0)
        desk_line.unlink()
        self.assertAlmostEqual(self.lead.expected_revenue, 500.0)
        # a second quotation of the same opportunity adds to it
        second = self.order.copy({"opportunity_id": self.lead.id})
        self.assertAlmostEqual(self.lead.expected_revenue, 1000.0)
        second.action_cancel()
        self.assertAlmostEqual(self.lead.expected_revenue, 500.0)

    def test_a_revenue_set_by_hand_stays(self):
        self.lead.with_user(self.api_user).sudo().expected_revenue = 5000.0
        self.assertFalse(self.lead.revenue_from_quotations)
        self.order.order_line[:1].product_uom_qty = 10
        self.assertAlmostEqual(self.lead.expected_revenue, 5000.0)

    def test_opportunities_made_by_hand_are_left_alone(self):
        lead = self.env["crm.lead"].create(
            {"name": "By hand", "type": "opportunity", "expected_revenue": 42.0}
        )
        self.order.opportunity_id = lead
        self.assertAlmostEqual(lead.expected_revenue, 42.0)
        # the agent's opportunity lost its only quotation
        self.assertAlmostEqual(self.lead.expected_revenue, 0.0)
