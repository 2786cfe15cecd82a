import select
import time
from contextlib import closing
from datetime import timedelta
from unittest.mock import patch

import psycopg2

from odoo import api, fields, sql_db
from odoo.modules.registry import Registry
from odoo.tests import BaseCase, TransactionCase, get_db_name, tagged
from odoo.tools import SQL
from odoo.tools.sql import make_index_name

from odoo.addons.base.models.ir_cron import ODOO_NOTIFY_FUNCTION

from ..models.cron_queue_mixin import backoff_seconds
from ..services import cron_wakeup

AUDIT_CRON = "odoo_mcp_quotation.ir_cron_send_audit_entries"


def _entry_values(name):
    return {
        "tracking_id": "0" * 32,
        "event": "created",
        "key": f"queue-test/{name}.json",
        "document": "{}",
    }


def odoos_own_notifydb(cron):
    """Odoo's own ``ir.cron._notifydb``, not this addon's override of it (its
    class is ``ir_cron`` in 18.0, ``IrCron`` in 19.0: found by its module)."""
    odoos = next(
        cls
        for cls in type(cron).__mro__
        if cls.__module__ == "odoo.addons.base.models.ir_cron"
        and "_notifydb" in vars(cls)
    )
    return odoos._notifydb(cron)


@tagged("post_install", "-at_install")
class TestQueueRunner(TransactionCase):
    """What every queue gets from the runner, shown on the audit outbox."""

    def setUp(self):
        super().setUp()
        self.Entry = self.env["quotation.audit.entry"]
        self.cron = self.env.ref(AUDIT_CRON)

    def test_one_back_off_rule_doubles_up_to_its_ceiling(self):
        self.assertEqual(
            [backoff_seconds(attempts, 10, 3600) for attempts in range(1, 6)],
            [10, 20, 40, 80, 160],
        )
        self.assertEqual(backoff_seconds(0, 10, 3600), 10)
        self.assertEqual(backoff_seconds(9, 10, 3600), 2560)
        self.assertEqual(backoff_seconds(10, 10, 3600), 3600)
        self.assertEqual(backoff_seconds(10**9, 10, 3600), 3600, "no huge numbers")
        # each queue with its own settings: tasks 10 s, the audit outbox 30 s
        self.assertEqual(self.env["quotation.task"]._backoff(2), timedelta(seconds=20))
        self.assertEqual(self.Entry._backoff(2), timedelta(seconds=60))
        self.assertEqual(
            self.env["elevenlabs.webhook.delivery"]._backoff(3),
            self.env["quotation.task"]._backoff(3),
        )

    def test_a_stuck_row_is_requeued_after_its_back_off(self):
        stuck, alive = self.Entry.create(
            [_entry_values("stuck"), _entry_values("alive")]
        )
        stuck.write(
            {
                "state": "processing",
                "attempts": 1,
                "lease_until": fields.Datetime.now() - timedelta(seconds=1),
            }
        )
        alive.write(
            {
                "state": "processing",
                "attempts": 1,
                "lease_until": fields.Datetime.now() + timedelta(minutes=5),
            }
        )
        before = fields.Datetime.now()
        self.assertEqual(self.Entry._requeue_stuck(), stuck)
        self.assertEqual((stuck.state, stuck.attempts), ("pending", 1))
        self.assertIn("stopped before it finished", stuck.error)
        self.assertAlmostEqual(
            (stuck.next_attempt_at - before).total_seconds(), 30, delta=2
        )
        self.assertFalse(stuck.lease_until)
        self.assertEqual(alive.state, "processing", "a live lease is left alone")
        self.assertTrue(
            self.env["ir.cron.trigger"].search_count(
                [
                    ("cron_id", "=", self.cron.id),
                    ("call_at", "=", stuck.next_attempt_at),
                ]
            ),
            "the cron is called back when the row is due again",
        )

    def test_triggers_are_those_of_ir_cron_trigger(self):
        """The fast path writes what ``ir.cron._trigger`` writes and notifies as it."""
        Trigger = self.env["ir.cron.trigger"]
        now = fields.Datetime.now()
        for at, active in (
            (now - timedelta(minutes=1), True),
            (now + timedelta(minutes=5), True),
            (now - timedelta(minutes=1), False),
            (now + timedelta(minutes=5), False),
        ):
            with self.subTest(at=at, active=active):
                self.cron.active = active
                results = []
                for trigger in (self.cron._trigger, self.Entry._trigger_processing):
                    Trigger.search([("cron_id", "=", self.cron.id)]).unlink()
                    self.env.cr.postcommit.clear()
                    trigger(at=at)
                    results.append(
                        (
                            Trigger.search([("cron_id", "=", self.cron.id)]).mapped(
                                lambda row: (row.cron_id, row.call_at)
                            ),
                            len(self.env.cr.postcommit._funcs),
                        )
                    )
                self.assertEqual(results[0], results[1])

    def test_a_wake_up_writes_one_due_trigger_at_a_time(self):
        Trigger = self.env["ir.cron.trigger"]
        Trigger.search([("cron_id", "=", self.cron.id)]).unlink()
        for _poll in range(3):
            self.Entry._trigger_processing(once=True)
        self.assertEqual(Trigger.search_count([("cron_id", "=", self.cron.id)]), 1)
        self.Entry._trigger_processing(at=fields.Datetime.now() + timedelta(hours=1))
        self.assertEqual(
            Trigger.search_count([("cron_id", "=", self.cron.id)]),
            2,
            "a later call back is another matter",
        )

    def test_the_wake_up_notification_is_odoos(self):
        """Cron workers LISTEN for ``_notifydb``: the kept-open one must match it."""
        self.assertIn(ODOO_NOTIFY_FUNCTION, cron_wakeup.notify_statement("x").code)
        dbname = self.env.cr.dbname
        _name, params = sql_db.connection_info_for("postgres")
        with closing(psycopg2.connect(**params)) as listener:
            listener.autocommit = True
            listener.cursor().execute("LISTEN cron_trigger")
            received = []
            for wake in (
                lambda: odoos_own_notifydb(self.cron),
                lambda: cron_wakeup.wake_cron_workers(dbname),
            ):
                wake()
                received.append(_next_notification(listener, dbname))
        self.assertEqual(received[0], ("cron_trigger", dbname))
        self.assertEqual(received[1], received[0])

    def test_any_cron_trigger_wakes_the_workers_on_the_kept_open_connection(self):
        """Triggers of other modules too (CRM's lead enrichment, one per lead a
        quotation creates) wake the workers without a new connection."""
        dbname = self.env.cr.dbname
        _name, params = sql_db.connection_info_for("postgres")
        with closing(psycopg2.connect(**params)) as listener:
            listener.autocommit = True
            listener.cursor().execute("LISTEN cron_trigger")
            cron_wakeup.wake_cron_workers(dbname)  # the kept-open one, opened
            _next_notification(listener, dbname)
            with patch.object(
                sql_db,
                "db_connect",
                side_effect=AssertionError("a new connection per wake-up"),
            ):
                self.env.ref("base.autovacuum_job")._trigger()
                self.env.cr.postcommit.run()
            self.assertEqual(
                _next_notification(listener, dbname), ("cron_trigger", dbname)
            )

    def test_a_first_failed_connection_raises_the_database_error(self):
        saved = dict(cron_wakeup._connection)
        cron_wakeup._connection.clear()
        _name, params = sql_db.connection_info_for("postgres")
        unreachable = dict(params, host="127.0.0.1", port=1, connect_timeout=2)
        try:
            with (
                patch.object(
                    cron_wakeup.sql_db,
                    "connection_info_for",
                    return_value=("postgres", unreachable),
                ),
                self.assertRaises(psycopg2.OperationalError),
            ):
                cron_wakeup.wake_cron_workers(self.env.cr.dbname)
        finally:
            cron_wakeup._connection.clear()
            cron_wakeup._connection.update(saved)
        cron_wakeup.wake_cron_workers(self.env.cr.dbname)  # and it recovers

    def test_the_tracking_id_has_one_index_its_unique_constraint(self):
        def indexes():
            self.env.cr.execute(
                """
                SELECT indexname, indexdef FROM pg_indexes
                 WHERE tablename = 'quotation_task' AND indexdef LIKE %s
                """,
                ["%(tracking_id)%"],
            )
            return self.env.cr.fetchall()

        ((name, definition),) = indexes()
        self.assertIn("UNIQUE", definition)
        # a database made while the field had index=True, then upgraded
        old = make_index_name("quotation_task", "tracking_id")
        self.env.cr.execute(
            SQL("CREATE INDEX %s ON quotation_task (tracking_id)", SQL.identifier(old))
        )
        self.assertEqual(len(indexes()), 2)
        self.env["quotation.task"].init()
        self.assertEqual(indexes(), [(name, definition)])


def _next_notification(connection, dbname, timeout=5):
    """The next notification for this database (others' tests share the server)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        select.select([connection], [], [], 0.2)
        connection.poll()
        while connection.notifies:
            notify = connection.notifies.pop(0)
            if notify.payload == dbname:
                return notify.channel, notify.payload
    return None


@tagged("post_install", "-at_install")
class TestQueueClaims(BaseCase):
    """Two workers on two real connections, on committed audit entries."""

    def setUp(self):
        super().setUp()
        self.registry = Registry(get_db_name())
        with closing(self.registry.cursor()) as cr:
            env = api.Environment(cr, api.SUPERUSER_ID, {})
            entries = env["quotation.audit.entry"].create(
                [_entry_values(f"claim-{n}") for n in range(3)]
            )
            cr.commit()  # pylint: disable=invalid-commit
            self.entry_ids = entries.ids
        self.addCleanup(self._delete_entries)

    def _delete_entries(self):
        with closing(self.registry.cursor()) as cr:
            env = api.Environment(cr, api.SUPERUSER_ID, {})
            env["quotation.audit.entry"].browse(self.entry_ids).unlink()
            cr.commit()  # pylint: disable=invalid-commit

    def test_a_claim_skips_the_rows_another_worker_holds(self):
        with (
            closing(self.registry.cursor()) as cr1,
            closing(self.registry.cursor()) as cr2,
        ):
            ours = api.Environment(cr1, api.SUPERUSER_ID, {})["quotation.audit.entry"]
            other = api.Environment(cr2, api.SUPERUSER_ID, {})["quotation.audit.entry"]
            entries = ours.browse(self.entry_ids)
            (entries[2:])._set_pending(delay=timedelta(hours=1))
            cr1.commit()  # pylint: disable=invalid-commit
            due = entries[:2]
            first = ours._claim_due(1) & due
            self.assertEqual(len(first), 1)
            self.assertEqual((first.state, first.attempts), ("processing", 1))
            second = other._claim_due(3) & other.browse(self.entry_ids)
            self.assertEqual(second.ids, (due - first).ids, "the locked row is skipped")
            self.assertFalse(other._claim_due(3) & other.browse(self.entry_ids))
            cr1.rollback()
            cr2.rollback()
