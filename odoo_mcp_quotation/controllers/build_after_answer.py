"""After an answer that queued a quotation, the HTTP worker that gave it may
build the quotation itself (REST and MCP alike)."""

from odoo.http import request

from .. import compat
from ..models.quotation_task import WAKE_UP_DEFERRED


def deferring_wake_up(env):
    """``env`` for a request whose answer goes through :func:`build_after_answer`:
    the tasks it queues wake no cron worker, whose wake-up costs about as
    much CPU as a fifth of a quotation (docs/performance.md), when this worker
    is to build them; :func:`build_after_answer` wakes the crons when it is not."""
    return env(context=dict(env.context, **{WAKE_UP_DEFERRED: True}))


def build_after_answer(response):
    """``response``, which, once sent, lets this HTTP worker build what the
    request queued: an Odoo cron worker sleeps up to 0.1 s after each wake-up
    and runs at a lower priority (docs/reliability.md). Only when the queue
    holds nothing else: under load the HTTP workers keep answering and the
    crons build, woken here. Never in tests, whose cursor the server shares."""
    tasks = request.env["quotation.task"]
    if compat.serves_a_test(request.env) or not tasks._may_build_after_answer():
        tasks._trigger_processing()
        return response
    body, dbname = response.get_data(), request.env.cr.dbname

    def answer_then_build():
        yield body  # the client has its whole answer (Content-Length)
        tasks._build_after_answer(dbname)

    response.response = answer_then_build()
    response.headers["Content-Length"] = str(len(body))
    return response
