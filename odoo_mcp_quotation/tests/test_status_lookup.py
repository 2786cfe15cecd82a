from odoo import Command
from odoo.exceptions import AccessError, MissingError
from odoo.tests import tagged

from ..compat import USER_GROUPS
from ..services.quotation_service import (
    ORDER_FIELDS,
    SUMMARY_FIELDS,
    QuotationService,
)
from .common import SALESMAN, QuotationTaskCase, TestUsersMixin, quotation_payload


@tagged("post_install", "-at_install")
class TestStatusLookup(TestUsersMixin, QuotationTaskCase):
    """A status call finds the caller's own task through its rights, record
    rules and companies as they are now: never another's, never a stale one."""

    test_users = {"other": {"login": "omq_lookup_other", "groups": SALESMAN}}

    def as_companies(self, *companies):
        """The API user's service, working in ``companies`` (first: current)."""
        env = self.service.env
        context = dict(env.context, allowed_company_ids=[c.id for c in companies])
        return QuotationService(env(context=context))

    def test_a_lookup_reads_what_the_general_search_reads(self):
        task = self.submit(channel="mcp")
        self.process()
        general = self.service.tasks._search_fetch_with_orders(
            [
                ("tracking_id", "=", task.tracking_id),
                ("requested_by_id", "=", self.api_user.id),
            ],
            SUMMARY_FIELDS,
            ORDER_FIELDS,
            limit=1,
        )
        expected = self.service.summary(general)
        self.assertEqual(expected["status"], "done")
        self.env.invalidate_all()
        found = self.service.find_task(task.tracking_id)
        self.assertEqual(found, task)
        with self.assertQueryCount(0):  # the task, its order and currency cached
            self.assertEqual(self.service.summary(found), expected)

    def test_another_user_never_gets_the_first_users_task(self):
        others = QuotationService(self.service.env(user=self.other))
        task = self.submit()
        other_task = others.submit(quotation_payload(email="o@example.com"), "rest")
        self.assertEqual(self.service.find_task(task.tracking_id), task)
        with self.assertRaises(MissingError):
            others.find_task(task.tracking_id)
        self.assertEqual(others.find_task(other_task.tracking_id), other_task)
        with self.assertRaises(MissingError):
            self.service.find_task(other_task.tracking_id)

    def test_a_rule_added_after_a_lookup_hides_the_task_at_once(self):
        task = self.submit()
        self.assertEqual(self.service.find_task(task.tracking_id), task)
        rule = self.env["ir.rule"].create(
            {
                "name": "Not this one",
                "model_id": self.env["ir.model"]._get_id("quotation.task"),
                "domain_force": f"[('id', '!=', {task.id})]",
            }
        )
        superuser = QuotationService(self.service.env(su=True))
        self.assertEqual(superuser.find_task(task.tracking_id), task)  # no rules
        with self.assertRaises(MissingError):
            self.service.find_task(task.tracking_id)
        rule.unlink()
        self.assertEqual(self.service.find_task(task.tracking_id), task)

    def test_read_access_withdrawn_after_a_lookup_refuses_at_once(self):
        task = self.submit()
        self.service.find_task(task.tracking_id)
        access = self.env.ref("odoo_mcp_quotation.access_quotation_task_user")
        access.perm_read = False
        with self.assertRaises(AccessError):
            self.service.find_task(task.tracking_id)

    def test_a_user_out_of_the_sales_groups_is_refused_at_once(self):
        task = self.submit()
        self.service.find_task(task.tracking_id)
        self.api_user[USER_GROUPS] = [Command.set(self.env.ref("base.group_user").ids)]
        with self.assertRaises(AccessError):
            self.service.find_task(task.tracking_id)

    def test_the_companies_of_the_call_and_of_the_user_decide_at_once(self):
        main = self.api_user.company_id
        company_b = self.env["res.company"].create({"name": "OMQ Lookup B"})
        self.api_user.company_ids = [Command.link(company_b.id)]
        task = self.as_companies(company_b).submit(quotation_payload(), "rest")
        task = task.with_env(self.env)
        self.assertEqual(task.company_id, company_b)
        tracking_id = task.tracking_id
        self.assertEqual(
            self.as_companies(company_b, main).find_task(tracking_id), task
        )
        with self.assertRaises(MissingError):
            self.as_companies(main).find_task(tracking_id)
        self.assertEqual(self.service.find_task(tracking_id), task)  # all his
        self.api_user.company_ids = [Command.unlink(company_b.id)]
        with self.assertRaises(MissingError):
            self.service.find_task(tracking_id)
