"""A quotation its client waits for (REST ``Prefer: wait``, the MCP
``create_quotation`` call): built by the HTTP worker that answers, when the
queue is idle, so that the answer carries it.

The task is committed before anything is tried: whatever happens next, it is
in the queue. The build claims it as a cron does (``SKIP LOCKED``, its own
transactions, a lease), so a cron running at the same moment never builds it
twice, and a worker killed mid-build leaves it to a cron once the lease ends.
A prefork worker waits only while half of the HTTP workers stay free: the
slots of ``services/mcp_streams.py``, which the streams take too.
"""

import logging
import threading
import time

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry

from .. import compat
from .mcp_streams import release_slots, take_slots, worker_pool

_logger = logging.getLogger(__name__)

FINAL_STATES = ("done", "failed", "cancelled")
POLL_SECONDS = 0.05  # while a cron that claimed the task first builds it


def build_in_time(task, seconds):
    """Whether ``task`` (just queued by this request) is finished within
    ``seconds``, built by this worker if need be; False leaves it to the
    queue, as if nobody waited. Never in tests, whose cursor the server
    shares: a real server process shows it (tests/test_prefer_wait.py)."""
    if task.state in FINAL_STATES:  # a retry of a request already built
        return True
    env = task.env
    if (
        seconds <= 0
        or task.state != "pending"
        or compat.serves_a_test(env)
        or not task._may_build_after_answer()
    ):
        return False
    deadline = time.monotonic() + seconds
    env.cr.commit()  # pylint: disable=invalid-commit
    builder = threading.Thread(
        target=_build,
        args=(env.cr.dbname, task.id, deadline),
        name=f"quotation.task {task.id}",
    )
    builder.start()
    builder.join(max(0.0, deadline - time.monotonic()))
    if builder.is_alive():  # late: it goes on building after the 202
        return False
    env.invalidate_all()
    return task.state in FINAL_STATES


def _build(dbname, task_id, deadline):
    """Build the task on a connection of its own while a worker slot is free,
    then, if a cron took it first, wait for it until ``deadline``."""
    threading.current_thread().dbname = dbname
    try:
        with Registry(dbname).cursor() as cr:
            pool = worker_pool()
            full, taken = take_slots(cr, [pool] if pool else [])
            cr.commit()  # pylint: disable=invalid-commit
            if full:
                return
            try:
                tasks = api.Environment(cr, SUPERUSER_ID, {})["quotation.task"]
                if not tasks._process_due(commit=True, limit=1, only=[task_id]):
                    _wait_until_final(cr, task_id, deadline)
            finally:
                cr.rollback()
                release_slots(cr, taken)
                cr.commit()  # pylint: disable=invalid-commit
    except Exception:  # the task is queued: a cron worker takes it
        _logger.exception("Building a quotation while its client waits failed")


def _wait_until_final(cr, task_id, deadline):
    while time.monotonic() < deadline:
        cr.execute("SELECT state FROM quotation_task WHERE id = %s", [task_id])
        state = cr.fetchone()[0]
        cr.commit()  # pylint: disable=invalid-commit
        if state in FINAL_STATES:
            return
        time.sleep(POLL_SECONDS)
