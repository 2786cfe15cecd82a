"""Who wakes Odoo's cron workers for a quotation queued over HTTP, against a
real ``odoo-bin --workers 2``: nobody when the HTTP worker that answers builds
it (a wake-up costs the cron workers and PostgreSQL about a fifth of a
quotation's CPU, docs/performance.md), that worker when it does not. The
queue's crons are held back from their own interval meanwhile, so a task
left to them finishes only if it was woken."""

import time
from contextlib import contextmanager

import harness
from helpers.voice_agent import ELEVENLABS_BODY, post_quotation
from test_prefer_wait import orders_locked

TASK_CRONS = (
    "ir_cron_process_quotation_tasks",
    "ir_cron_process_quotation_tasks_lane2",
)


def _query(server, sql, params=()):
    connection = harness.pg_connect(server.database)
    try:
        cursor = connection.cursor()
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else None
    finally:
        connection.close()


def _task_crons_last_run(server):
    return _query(
        server,
        """SELECT c.id, c.lastcall FROM ir_cron c
             JOIN ir_model_data d ON d.res_id = c.id AND d.model = 'ir.cron'
            WHERE d.module = 'odoo_mcp_quotation' AND d.name IN %s ORDER BY c.id""",
        (TASK_CRONS,),
    )


def _state(server, tracking_id):
    rows = _query(
        server,
        "SELECT state, attempts FROM quotation_task WHERE tracking_id = %s",
        (tracking_id,),
    )
    return rows[0]


@contextmanager
def crons_only_when_woken(server):
    """The task crons' next interval run a day away."""
    ids = [cron_id for cron_id, _ in _task_crons_last_run(server)]
    _query(
        server,
        "UPDATE ir_cron SET nextcall = now() AT TIME ZONE 'utc' + interval '1 day'"
        " WHERE id IN %s",
        (tuple(ids),),
    )
    try:
        yield
    finally:
        _query(
            server,
            "UPDATE ir_cron SET nextcall = now() AT TIME ZONE 'utc' WHERE id IN %s",
            (tuple(ids),),
        )


def _body(conversation_id):
    """A call's request, from a caller of its own: two builds at once never
    meet on the same customer (a conflict retried after its back-off)."""
    return dict(
        ELEVENLABS_BODY,
        conversation_id=conversation_id,
        customer_name=f"Caller {conversation_id}",
        email=f"{conversation_id}@example.com",
        phone=None,
    )


def test_a_quotation_its_worker_builds_wakes_no_cron_worker(odoo_server):
    with crons_only_when_woken(odoo_server):
        before = _task_crons_last_run(odoo_server)
        answer = post_quotation(odoo_server, _body("conv_wake_none"), Prefer="wait=3")
        assert answer.status_code == 200, answer.text
        plain = post_quotation(odoo_server, _body("conv_wake_none_202"))
        assert plain.status_code == 202, plain.text
        tracking_id = plain.json()["tracking_id"]
        deadline = time.monotonic() + 20  # built after the answer, by that worker
        while _state(odoo_server, tracking_id)[0] != "done":
            assert time.monotonic() < deadline, _state(odoo_server, tracking_id)
            time.sleep(0.2)
        time.sleep(1.5)  # a woken cron worker would have run by now
        assert _task_crons_last_run(odoo_server) == before


def test_a_quotation_its_worker_does_not_build_wakes_the_crons(odoo_server):
    with crons_only_when_woken(odoo_server):
        before = _task_crons_last_run(odoo_server)
        with orders_locked(odoo_server):  # the first build holds the queue busy
            first = post_quotation(odoo_server, _body("conv_wake_1"), Prefer="wait=1")
            assert first.status_code == 202, first.text
            second = post_quotation(odoo_server, _body("conv_wake_2"))
            assert second.status_code == 202, second.text
        queued = [answer.json()["tracking_id"] for answer in (first, second)]
        deadline = time.monotonic() + 20  # no status polls: only the wake-up
        while any(_state(odoo_server, tid)[0] != "done" for tid in queued):
            assert time.monotonic() < deadline, [_state(odoo_server, t) for t in queued]
            time.sleep(0.2)
        assert [_state(odoo_server, tid)[0] for tid in queued] == ["done"] * 2
        assert _task_crons_last_run(odoo_server) != before
