"""MCP tasks: a tool call that runs on, followed by ``tasks/*`` requests.

No Odoo here. Both forms: 2025-11-25's core tasks (the client asks with
``task``) and 2026-07-28's tasks extension (the server decides, and inlines
the outcome in ``tasks/get``). The tasks themselves live in a
:class:`TaskStore` the adapter provides, backed by its own durable jobs.
"""

from contextlib import suppress
from typing import Protocol

import mcp_types as types
from mcp_types.version import is_version_at_least
from pydantic import ValidationError

from .errors import (
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    McpError,
    ToolError,
    invalid_params,
)
from .tools import tool_error_result, tool_result
from .versions import TASKS_SINCE, is_modern

TASK_POLL_INTERVAL_MS = 1000
TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
TERMINAL_TASK_STATUSES = ("completed", "failed", "cancelled")
PARAMS = {
    "tasks/get": types.GetTaskRequestParams,
    "tasks/result": types.GetTaskPayloadRequestParams,
    "tasks/cancel": types.CancelTaskRequestParams,
    "tasks/update": types.GetTaskRequestParams,
}


class TaskStore(Protocol):
    """MCP tasks (2025-11-25, and the 2026-07-28 tasks extension) backed by the
    adapter's own durable jobs.

    Every method returns ``mcp_types.Task`` objects; an unknown id raises
    ``McpError(INVALID_PARAMS)``.
    """

    def start(self, context, tool, arguments):
        """Start the tool as a task; raise ToolError if the arguments are wrong."""

    def get(self, context, task_id): ...

    def wait(self, context, task_id):
        """The task once terminal, or as it is when the adapter stops waiting
        (it never holds a worker that other requests need)."""

    def result(self, context, task_id):
        """The finished task's tool output (dict) or ToolError."""

    def list(self, context, cursor):
        """Return (tasks, next_cursor)."""

    def cancel(self, context, task_id): ...


def runs_as_task(store, tool, request, exchange):
    """2025-11-25: the client asks with ``task``; 2026-07-28: the server
    decides, for clients that declare the tasks extension."""
    if is_modern(exchange.version):
        extensions = exchange.client_capabilities.get("extensions") or {}
        return bool(store and tool.task_support and TASKS_EXTENSION in extensions)
    return request.task is not None and is_version_at_least(
        exchange.version, TASKS_SINCE
    )


def task_json(task, version):
    data = task.model_dump(mode="json", by_alias=True, exclude_none=True)
    if is_modern(version):  # the extension's names for the same two hints
        data.pop("pollInterval", None)
        data["ttlMs"] = task.ttl
        data["pollIntervalMs"] = task.poll_interval
    else:
        data["ttl"] = task.ttl  # required, null means kept without limit
    return data


class TaskRequests:
    """The ``tasks/*`` methods, and a tools/call that starts a task, over a
    :class:`TaskStore`."""

    def __init__(self, store):
        self.store = store

    def methods(self, core, modern):
        """``{method: (handler, revisions)}`` for the dispatcher."""
        return {
            "tasks/get": (self.get, core | modern),
            "tasks/cancel": (self.cancel, core | modern),
            "tasks/result": (self.result, core),
            "tasks/list": (self.list, core),
            "tasks/update": (self.update, modern),
        }

    def start(self, tool, arguments, exchange):
        if not (self.store and tool.task_support):
            raise McpError(
                METHOD_NOT_FOUND,
                f"The tool {tool.name} does not run as a task: call it without 'task'.",
            )
        try:
            task = self.store.start(exchange.context, tool, arguments)
        except ToolError as error:
            raise McpError(INVALID_PARAMS, error.text(), error.problems) from None
        if is_modern(exchange.version):
            return {"resultType": "task", **task_json(task, exchange.version)}
        return {
            "task": task_json(types.CreateTaskResult(task=task).task, exchange.version)
        }

    def _task_id(self, method, params):
        try:
            return PARAMS[method].model_validate(params).task_id
        except ValidationError as error:
            raise invalid_params(method, error) from None

    def get(self, params, exchange):
        task_id = self._task_id("tasks/get", params)
        task = self.store.get(exchange.context, task_id)
        data = task_json(task, exchange.version)
        if not is_modern(exchange.version):
            return data
        # the extension inlines the outcome: a finished quotation request is a
        # completed tool call, its failure a tool result with isError
        if task.status in ("completed", "failed"):
            data["status"] = "completed"
            data["result"] = self._outcome(task_id, exchange)
        return {"resultType": "complete", **data}

    def _outcome(self, task_id, exchange, related_task=None):
        try:
            structured = self.store.result(exchange.context, task_id)
        except ToolError as error:
            return tool_error_result(error, exchange.version, related_task)
        return tool_result(structured, exchange.version, related_task)

    def result(self, params, exchange):
        """2025-11-25's tasks/result: the outcome, or, when the store stopped
        waiting first, an error telling the client to poll tasks/get."""
        task_id = self._task_id("tasks/result", params)
        task = self.store.wait(exchange.context, task_id)
        if task.status not in TERMINAL_TASK_STATUSES:
            raise McpError(
                INVALID_PARAMS,
                f"The task is still {task.status}: poll tasks/get every "
                f"{TASK_POLL_INTERVAL_MS} ms and call tasks/result once it is "
                "completed or failed.",
                {"taskId": task_id, "status": task.status},
            )
        return self._outcome(task_id, exchange, task_id)

    def list(self, params, exchange):
        try:
            cursor = types.PaginatedRequestParams.model_validate(params).cursor
        except ValidationError as error:
            raise invalid_params("tasks/list", error) from None
        tasks, next_cursor = self.store.list(exchange.context, cursor)
        result = {"tasks": [task_json(task, exchange.version) for task in tasks]}
        if next_cursor:
            result["nextCursor"] = next_cursor
        return result

    def cancel(self, params, exchange):
        task_id = self._task_id("tasks/cancel", params)
        if not is_modern(exchange.version):
            return task_json(
                self.store.cancel(exchange.context, task_id), exchange.version
            )
        # the extension's cancel is a cooperative request, acknowledged even
        # when the quotation is already being built (it then completes)
        if self.store.get(exchange.context, task_id).status == "working":
            with suppress(McpError):
                self.store.cancel(exchange.context, task_id)
        return {"resultType": "complete"}

    def update(self, params, exchange):
        """Input responses for a task: these tasks never wait for input, so
        every response is for no outstanding request and is ignored."""
        self.store.get(exchange.context, self._task_id("tasks/update", params))
        return {"resultType": "complete"}
