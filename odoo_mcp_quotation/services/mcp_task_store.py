"""``quotation.task`` as the MCP protocol's TaskStore (``mcp/tasks.py``)."""

import time

import mcp_types

import odoo
from odoo.exceptions import MissingError

from ..mcp.errors import INVALID_PARAMS, McpError, ToolError
from ..mcp.tasks import TASK_POLL_INTERVAL_MS, TERMINAL_TASK_STATUSES
from .mcp_tools import call_service
from .quotation_service import QuotationService

TASK_STATUSES = {
    "pending": "working",
    "processing": "working",
    "done": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}
TASK_PAGE_SIZE = 20
TASK_WAIT_STEP_SECONDS = 0.25
# tasks/result waits for the quotation only in the gevent process, where a
# waiting request costs a greenlet; a prefork worker answers at once
EVENTED_TASK_WAIT_SECONDS = 25.0


class QuotationTaskStore:
    """MCP tasks (2025-11-25, and the 2026-07-28 tasks extension) backed by
    ``quotation.task``: taskId = tracking id."""

    def start(self, env, tool, arguments):
        service = QuotationService(env)
        return _mcp_task(
            env, call_service(env, lambda: service.submit(arguments, "mcp"))
        )

    def get(self, env, task_id):
        return _mcp_task(env, self._find(env, task_id))

    def wait(self, env, task_id):
        """Poll in fresh transactions: the request's own snapshot never changes."""
        timeout = EVENTED_TASK_WAIT_SECONDS if odoo.evented else 0
        deadline = time.monotonic() + timeout
        while True:
            with env.registry.cursor() as cr:
                fresh = env(cr=cr)
                task = _mcp_task(fresh, self._find(fresh, task_id))
            if task.status in TERMINAL_TASK_STATUSES:
                return task
            if time.monotonic() >= deadline:
                return task
            time.sleep(TASK_WAIT_STEP_SECONDS)

    def result(self, env, task_id):
        with env.registry.cursor() as cr:
            fresh = env(cr=cr)
            task = self._find(fresh, task_id)
            if task.state == "done":
                return QuotationService(fresh).queued(task)
            raise ToolError(task.error or env._("The quotation request was cancelled."))

    def list(self, env, cursor):
        if cursor and not cursor.isdigit():
            raise McpError(INVALID_PARAMS, "Invalid cursor: pass nextCursor.")
        tasks = QuotationService(env).list_tasks(
            "mcp", int(cursor or 0), limit=TASK_PAGE_SIZE + 1
        )
        next_cursor = None
        if len(tasks) > TASK_PAGE_SIZE:
            tasks = tasks[:TASK_PAGE_SIZE]
            next_cursor = str(tasks[-1].id)
        return [_mcp_task(env, task) for task in tasks], next_cursor

    def cancel(self, env, task_id):
        task = self._find(env, task_id)
        if not QuotationService(env).cancel(task):
            raise McpError(
                INVALID_PARAMS,
                f"Cannot cancel the task: it is already {TASK_STATUSES[task.state]}.",
            )
        return _mcp_task(env, task)

    def _find(self, env, task_id):
        try:
            return QuotationService(env).find_task(task_id)
        except MissingError:
            raise McpError(INVALID_PARAMS, f"Task not found: {task_id}.") from None


def _mcp_task(env, task):
    """The task as MCP shows it; its message is the one REST's status gives."""
    return mcp_types.Task(
        task_id=task.tracking_id,
        status=TASK_STATUSES[task.state],
        status_message=QuotationService(env).state_message(task),
        created_at=task.create_date.isoformat() + "Z",
        last_updated_at=task.write_date.isoformat() + "Z",
        ttl=None,
        poll_interval=TASK_POLL_INTERVAL_MS,
    )
