"""Exactly-once, counted from each task's own history (its tracked state
changes and chatter), not from its final state; and the Odoo process a test
catches mid-task, to kill it."""

import time
from collections import Counter
from contextlib import contextmanager

import harness
import psutil


@contextmanager
def cursor(database):
    """A cursor outside any transaction: each statement sees what is committed
    by then, and ``pg_stat_activity`` as it is now (read in a transaction, it
    would stay as it was at its first read)."""
    connection = harness.pg_connect(database)
    connection.autocommit = True
    try:
        with connection.cursor() as cr:
            yield cr
    finally:
        connection.close()


def history(database, tracking_ids):
    """Per task: claims, completions and "created" messages in its chatter."""
    with cursor(database) as cr:
        cr.execute(
            """
            SELECT t.tracking_id,
                   count(v.id) FILTER (WHERE v.new_value_char = 'Processing'),
                   count(v.id) FILTER (WHERE v.new_value_char = 'Done'),
                   count(DISTINCT m.id) FILTER (WHERE m.body LIKE %s)
              FROM quotation_task t
              JOIN mail_message m ON m.model = 'quotation.task' AND m.res_id = t.id
              LEFT JOIN mail_tracking_value v
                     ON v.mail_message_id = m.id
                    AND v.field_id = (SELECT id FROM ir_model_fields
                                       WHERE model = 'quotation.task'
                                         AND name = 'state')
             WHERE t.tracking_id = ANY(%s)
             GROUP BY t.tracking_id
            """,
            ["%Quotation S% created.%", list(tracking_ids)],
        )
        return {row[0]: row[1:] for row in cr.fetchall()}


def assert_built_once(database, tracking_ids):
    """Each task completed once and announced one quotation, its only order.

    A task whose lease ran out while it waited in a busy worker's batch may be
    claimed again, but is built by one worker only.
    """
    records = history(database, tracking_ids)
    assert len(records) == len(tracking_ids)
    outcomes = Counter((done, created) for _claims, done, created in records.values())
    assert outcomes == {(1, 1): len(tracking_ids)}, outcomes
    with cursor(database) as cr:
        cr.execute(
            "SELECT origin, count(*) FROM sale_order WHERE origin = ANY(%s) "
            "GROUP BY origin",
            [list(tracking_ids)],
        )
        orders = dict(cr.fetchall())
    assert len(orders) == len(tracking_ids)
    assert set(orders.values()) == {1}


def customers_by_email(database, domain):
    with cursor(database) as cr:
        cr.execute(
            "SELECT lower(email), count(*) FROM res_partner WHERE email ILIKE %s "
            "GROUP BY lower(email)",
            [f"%@{domain}"],
        )
        return dict(cr.fetchall())


def row_locked_for(database, query, params=()):
    """An open transaction that holds ``query``'s rows ``FOR UPDATE``, and its
    backend's pid: whoever needs them waits until it ends (roll it back)."""
    locker = harness.pg_connect(database)
    locker.autocommit = False
    with locker.cursor() as cr:
        cr.execute(f"{query} FOR UPDATE", params)
        cr.execute("SELECT pg_backend_pid()")
        return locker, cr.fetchone()[0]


def process_blocked_by(database, servers, locker_pid, timeout=30):
    """The Odoo process (of ``servers``) whose database session waits for
    the lock of the backend ``locker_pid``."""
    deadline = time.monotonic() + timeout
    with cursor(database) as cr:
        while time.monotonic() < deadline:
            cr.execute(
                "SELECT client_port FROM pg_stat_activity "
                "WHERE %s = ANY(pg_blocking_pids(pid))",
                [locker_pid],
            )
            ports = {row[0] for row in cr.fetchall()}
            if ports:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("no Odoo process waits for the lock")
    for server in servers:
        for process in psutil.Process(server.process.pid).children(recursive=True):
            if any(c.laddr.port in ports for c in process.connections(kind="tcp")):
                return process
    raise AssertionError(f"no Odoo process holds the session on ports {ports}")
