import json

from odoo.exceptions import AccessError, MissingError
from odoo.tests import tagged

from ..lib.query_schema import (
    CustomerList,
    ProductList,
    Quotation,
    QuotationList,
    QuotationStatus,
)
from ..mcp.server import Exchange
from ..mcp.tools import PERSONAL_DATA_META_KEY
from ..services.mcp_server import mcp_server
from ..services.quotation_service import ORDER_FIELDS
from .common import QuotationTaskCase


@tagged("post_install", "-at_install")
class TestQuotationServiceQueries(QuotationTaskCase):
    """The read side agents use, as the API user, in the shapes MCP promises."""

    def test_search_products_by_reference_name_or_barcode(self):
        by_code = self.service.search_products("omq-desk")
        ProductList.model_validate(by_code)
        (desk,) = by_code["products"]
        self.assertEqual(desk["reference"], "OMQ-DESK")
        self.assertEqual(desk["price"], 500.0)
        self.assertEqual(desk["unit"], self.desk.uom_id.name)
        self.assertEqual(desk["currency"], self.desk.currency_id.name)
        self.assertEqual(
            self.service.search_products("4006381333931")["products"][0]["name"],
            "Standing Desk",
        )
        lamps = self.service.search_products("OMQ Lamp", limit=1)["products"]
        self.assertEqual(len(lamps), 1)
        self.lamp_small.sale_ok = False
        names = [
            p["name"] for p in self.service.search_products("OMQ Lamp")["products"]
        ]
        self.assertEqual(names, ["OMQ Lamp Large"])
        stock = "qty_available" in self.env["product.product"]._fields
        self.assertEqual("on_hand" in desk, stock)

    def test_long_lists_come_in_pages_that_fit_one_claude_result(self):
        """A page holds at most ``limit`` items and about 60,000 characters
        (claude.ai takes ~150,000 per result, Claude Code 25,000 tokens); its
        ``next_offset`` says more match."""
        self.env["product.product"].create(
            [
                {"name": f"OMQ Page {n:02} " + "é" * 3000, "list_price": n}
                for n in range(30)
            ]
        )
        first = self.service.search_products("OMQ Page", limit=50)
        ProductList.model_validate(first)
        self.assertLess(len(json.dumps(first, ensure_ascii=False)), 61_000)
        shown = len(first["products"])
        self.assertLess(shown, 30)
        self.assertEqual(first["next_offset"], shown)
        names = [p["name"][:11] for p in first["products"]]
        while "next_offset" in (
            page := self.service.search_products(
                "OMQ Page", limit=50, offset=len(names)
            )
        ):
            names += [p["name"][:11] for p in page["products"]]
        names += [p["name"][:11] for p in page["products"]]
        self.assertEqual(names, sorted({f"OMQ Page {n:02}" for n in range(30)}))
        few = self.service.search_products("OMQ Page 0", limit=5)
        self.assertEqual((len(few["products"]), few["next_offset"]), (5, 5))
        rest = self.service.search_products("OMQ Page 0", limit=5, offset=5)
        self.assertEqual(len(rest["products"]), 5)
        self.assertNotIn("next_offset", rest)

    def test_find_customer_by_email_name_or_phone(self):
        ana = self.env["res.partner"].create(
            {
                "name": "Ana Query",
                "email": "ana.query@example.com",
                "phone": "+34 699 123 456",
            }
        )
        for query in ("ana.query@", "Ana Query", "+34699123456"):
            found = self.service.find_customer(query)
            CustomerList.model_validate(found)
            self.assertEqual([c["id"] for c in found["customers"]], [ana.id], query)
        self.assertEqual(self.service.find_customer("zz-nobody-zz"), {"customers": []})

    def test_get_quotation_and_recent_quotations_after_processing(self):
        task = self.submit(channel="mcp")
        self.process()
        status = self.service.status(task.tracking_id)
        QuotationStatus.model_validate(status)
        quotation = self.service.get_quotation(status["order_reference"])
        Quotation.model_validate(quotation)
        self.assertEqual(quotation["state"], "draft")
        self.assertEqual(quotation["customer"], task.partner_id.display_name)
        self.assertEqual(
            [
                (line["product_reference"], line["quantity"])
                for line in quotation["lines"]
            ],
            [("OMQ-DESK", 2.0), (None, 4.0)],
        )
        self.assertAlmostEqual(quotation["amount_untaxed"], 2 * 500 + 4 * 120)
        self.assertIn("access_token=", quotation["portal_url"])
        recent = self.service.list_recent_quotations(customer="Ana García")
        QuotationList.model_validate(recent)
        self.assertEqual(recent["quotations"][0]["reference"], quotation["reference"])

    def test_a_status_reads_the_task_its_order_and_currency_at_once(self):
        """One statement each, nothing more (issue 14); the task's own
        quotation stays visible to its requester, as in test_security, though
        the order is not."""
        task = self.submit(channel="mcp")
        self.process()
        tracking_id = task.tracking_id
        self.service.status(tracking_id)  # warm the per-process caches
        self.env.flush_all()
        self.env.invalidate_all()
        before = self.env.cr.sql_log_count
        status = self.service.status(tracking_id)
        self.assertEqual(self.env.cr.sql_log_count - before, 3)
        order = task.sale_order_id
        self.assertEqual(
            (status["order_reference"], status["total"], status["currency"]),
            (order.name, order.amount_total, order.currency_id.name),
        )
        self.assertTrue(status["portal_url"].endswith(order.access_token))
        self.assertIn(order.name, status["message"])
        order.user_id = self.env.ref("base.user_admin")  # reassigned
        self.env.flush_all()
        self.env.invalidate_all()
        self.assertEqual(self.service.status(tracking_id), status)
        with self.assertRaises(AccessError):
            order.with_user(self.api_user).fetch(ORDER_FIELDS)

    def test_a_salesman_cannot_read_someone_elses_quotation(self):
        other = self.env["sale.order"].create(
            {
                "partner_id": self.env["res.partner"].create({"name": "X"}).id,
                "user_id": self.env.ref("base.user_admin").id,
            }
        )
        with self.assertRaises(MissingError):
            self.service.get_quotation(other.name)
        references = [
            q["reference"]
            for q in self.service.list_recent_quotations(limit=50)["quotations"]
        ]
        self.assertNotIn(other.name, references)

    def test_reading_a_quotation_writes_nothing(self):
        """Odoo's get_portal_url would create the missing access token."""
        order = self.env["sale.order"].create(
            {
                "partner_id": self.env["res.partner"].create({"name": "Y"}).id,
                "user_id": self.api_user.id,
            }
        )
        order.access_token = False  # as an order never shared, or imported
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT write_date FROM sale_order WHERE id = %s", [order.id]
        )
        written = self.env.cr.fetchone()
        quotation = self.service.get_quotation(order.name)
        self.assertTrue(quotation["portal_url"].endswith(f"/my/orders/{order.id}"))
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT write_date, access_token FROM sale_order WHERE id = %s", [order.id]
        )
        self.assertEqual(self.env.cr.fetchone(), (written[0], None))

    def test_tools_that_return_personal_data_say_so(self):
        tools = {
            tool["name"]: tool
            for tool in mcp_server()._list_tools({}, Exchange("2025-11-25", None))[
                "tools"
            ]
        }
        personal = {
            name
            for name, tool in tools.items()
            if tool.get("_meta", {}).get(PERSONAL_DATA_META_KEY)
        }
        self.assertEqual(
            personal, {"find_customer", "get_quotation", "list_recent_quotations"}
        )
        for name in personal:
            self.assertIn("personal data", tools[name]["description"])
            self.assertTrue(tools[name]["annotations"]["readOnlyHint"])
