from odoo.tests import BaseCase, tagged

from ..lib.request_schema import (
    MAX_LINES,
    RequestInvalid,
    parse_request,
    request_json_schema,
)
from .common import quotation_payload


@tagged("post_install", "-at_install")
class TestRequestSchema(BaseCase):
    def problems(self, payload):
        with self.assertRaises(RequestInvalid) as caught:
            parse_request(payload)
        return {
            problem["field"]: problem["message"]
            for problem in caught.exception.problems
        }

    def test_valid_request_is_normalised(self):
        request = parse_request(quotation_payload(customer_name="  Ana  "))
        self.assertEqual(request.customer_name, "Ana")
        self.assertEqual(request.lines[0].product, "OMQ-DESK")
        self.assertEqual(request.lines[0].quantity, 2.0)

    def test_every_problem_is_reported_at_once(self):
        problems = self.problems(
            {
                "customer_name": "",
                "email": "not-an-email",
                "lines": [{"product": "X", "quantity": 0}, {"quantity": 2}],
                "colour": "blue",
            }
        )
        self.assertEqual(
            set(problems),
            {
                "customer_name",
                "email",
                "lines[0].quantity",
                "lines[1].product",
                "colour",
            },
        )
        self.assertIn("Unknown field", problems["colour"])
        self.assertIn("required", problems["lines[1].product"])

    def test_line_count_and_quantity_bounds(self):
        self.assertIn("lines", self.problems(quotation_payload(lines=[])))
        too_many = [{"product": "X"}] * (MAX_LINES + 1)
        self.assertIn("lines", self.problems(quotation_payload(lines=too_many)))
        huge = [{"product": "X", "quantity": 10**9}]
        self.assertIn("lines[0].quantity", self.problems(quotation_payload(lines=huge)))

    def test_a_way_to_reach_the_customer_is_required(self):
        problems = self.problems(quotation_payload(email=None, phone=None))
        self.assertIn("e-mail or phone", problems["(request)"])

    def test_lengths_and_types(self):
        problems = self.problems(
            quotation_payload(customer_name="x" * 129, notes=42, lines="desk")
        )
        self.assertEqual(set(problems), {"customer_name", "notes", "lines"})

    def test_body_must_be_an_object(self):
        self.assertIn("(request)", self.problems(["not", "an", "object"]))

    def test_legacy_field_names_of_the_fastapi_server(self):
        request = parse_request(
            {
                "partner_name": "Ana",
                "email": "ana@example.com",
                "company": "ACME",
                "products": [{"product_code": "OMQ-DESK", "qty": 3}],
            }
        )
        self.assertEqual(request.customer_name, "Ana")
        self.assertEqual(request.company_name, "ACME")
        self.assertEqual(request.lines[0].product, "OMQ-DESK")
        self.assertEqual(request.lines[0].quantity, 3)

    def test_json_schema_is_self_contained(self):
        schema = request_json_schema()
        self.assertNotIn("$defs", schema)
        self.assertEqual(schema["required"], ["customer_name", "lines"])
        self.assertFalse(schema["additionalProperties"])
        line = schema["properties"]["lines"]["items"]
        self.assertEqual(line["required"], ["product"])
        self.assertFalse(line["additionalProperties"])
