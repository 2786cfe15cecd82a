from contextlib import ExitStack, closing, contextmanager

import psycopg2

from odoo import api
from odoo.modules.registry import Registry
from odoo.tests import BaseCase, get_db_name, tagged

from ..lib.request_schema import parse_request
from .common import quotation_payload


@tagged("post_install", "-at_install")
class TestConcurrentClaims(BaseCase):
    """Two workers on two real connections: committed tasks, real row locks."""

    def setUp(self):
        super().setUp()
        self.registry = Registry(get_db_name())
        with closing(self.registry.cursor()) as cr:
            env = api.Environment(cr, api.SUPERUSER_ID, {})
            tasks = env["quotation.task"]
            for index in range(6):
                tasks |= tasks.create(
                    tasks._prepare_from_request(
                        _request(index), "rest", idempotency_key=None
                    )
                )
            cr.commit()  # pylint: disable=invalid-commit
            self.task_ids = tasks.ids
        self.addCleanup(self._delete_tasks)

    @contextmanager
    def workers(self, count):
        """``count`` cron workers: quotation.task, each on a connection of its own."""
        with ExitStack() as stack:
            yield [
                api.Environment(
                    stack.enter_context(closing(self.registry.cursor())),
                    api.SUPERUSER_ID,
                    {},
                )["quotation.task"]
                for _index in range(count)
            ]

    def claim(self, worker, limit):
        """What ``worker`` claims of this test's tasks (others may be due too)."""
        return worker._claim_due(limit) & worker.browse(self.task_ids)

    def _delete_tasks(self):
        with closing(self.registry.cursor()) as cr:
            api.Environment(cr, api.SUPERUSER_ID, {})["quotation.task"].browse(
                self.task_ids
            ).unlink()
            cr.commit()  # pylint: disable=invalid-commit

    def test_two_claimers_never_take_the_same_task(self):
        with self.workers(2) as (worker1, worker2):
            claimed1 = self.claim(worker1, 4)
            claimed2 = self.claim(worker2, 4)
            self.assertEqual(len(claimed1), 4)
            self.assertEqual(
                len(claimed2), 2, "the second worker skips the locked rows"
            )
            self.assertFalse(set(claimed1.ids) & set(claimed2.ids))
            worker1.env.cr.rollback()
            worker2.env.cr.rollback()

    def test_a_worker_with_an_older_snapshot_skips_claimed_tasks(self):
        """The cron's claim transaction survives a claim committed meanwhile."""
        for isolate, expected_error in ((False, True), (True, False)):
            with (
                self.subTest(read_committed=isolate),
                self.workers(2) as (worker1, worker2),
            ):
                cr1, cr2 = worker1.env.cr, worker2.env.cr
                if isolate:
                    worker2._begin_claim_transaction()
                worker2._requeue_stuck()  # its snapshot starts here
                ids1 = set(self.claim(worker1, 4).ids)
                cr1.commit()  # pylint: disable=invalid-commit
                try:
                    claimed2 = self.claim(worker2, 6)
                except psycopg2.errors.SerializationFailure:
                    self.assertTrue(expected_error, "READ COMMITTED must not fail")
                else:
                    self.assertFalse(expected_error, "the control case should fail")
                    self.assertEqual(len(claimed2), 2)
                    self.assertFalse(ids1 & set(claimed2.ids))
                cr2.rollback()
                worker1.browse(list(ids1))._set_pending()
                cr1.commit()  # pylint: disable=invalid-commit

    def test_a_rolled_back_claim_releases_its_tasks(self):
        for attempt in ("claimed then rolled back", "claimed again"):
            with self.subTest(attempt), self.workers(1) as (worker,):
                self.assertEqual(len(self.claim(worker, 6)), 6)
                worker.env.cr.rollback()

    def test_a_task_taken_back_from_a_waiting_batch_is_built_once(self):
        """Its lease ran out while it waited: the first worker leaves it alone."""
        with self.workers(2) as (worker1, worker2):
            cr1, cr2 = worker1.env.cr, worker2.env.cr
            batch = self.claim(worker1, 6)
            claimed_attempts = {task.id: task.attempts for task in batch}
            cr1.commit()  # pylint: disable=invalid-commit
            first, last = batch[0], batch[-1]
            cr2.execute(
                "UPDATE quotation_task SET lease_until = now() - interval '1 hour' "
                "WHERE id = %s",
                [last.id],
            )
            requeued = worker2._requeue_stuck()
            self.assertEqual(requeued.ids, [last.id])
            requeued.next_attempt_at = False
            self.assertIn(last.id, worker2._claim_due(6).ids)
            cr2.commit()  # pylint: disable=invalid-commit

            self.assertTrue(first._start_attempt(claimed_attempts[first.id]))
            self.assertFalse(last._start_attempt(claimed_attempts[last.id]))
            self.assertEqual(last.attempts, 2, "the task is the second worker's now")
            cr1.rollback()
            worker2.browse(self.task_ids)._set_pending()
            cr2.commit()  # pylint: disable=invalid-commit


def _request(index):
    return parse_request(quotation_payload(email=f"concurrent{index}@example.com"))
