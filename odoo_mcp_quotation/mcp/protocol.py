"""The MCP protocol layer: JSON-RPC framing, versions, dispatch, errors, HTTP rules.

This module imports no Odoo, not even indirectly, so that it can be tested and
reasoned about on its own. The transports (``controllers/mcp.py``) hand it
bytes and headers and get back a status, headers and a body; an adapter
(``mcp/tools.py``) hands it the tools, a session store and a task store.
Requests are validated and results serialised with the official ``mcp_types``
models, per negotiated protocol revision.
"""

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import mcp_types as types
from mcp_types import jsonrpc
from mcp_types import methods as mcp_methods
from pydantic import ValidationError

from ..services.json_body import JsonBodyError, parse_json

_logger = logging.getLogger(__name__)

# ---------------------------------------------------------------- versions
STREAMABLE_HTTP_VERSIONS = ("2025-03-26", "2025-06-18", "2025-11-25")
LEGACY_SSE_VERSIONS = ("2024-11-05", *STREAMABLE_HTTP_VERSIONS)
LATEST_VERSION = STREAMABLE_HTTP_VERSIONS[-1]
# served when a request after initialize carries no MCP-Protocol-Version header
DEFAULT_VERSION = types.DEFAULT_NEGOTIATED_VERSION
BATCH_VERSIONS = ("2025-03-26",)  # added in 2025-03-26, removed in 2025-06-18
STRUCTURED_OUTPUT_SINCE = "2025-06-18"
TASKS_SINCE = "2025-11-25"
ALL_VERSIONS = LEGACY_SSE_VERSIONS

PROTOCOL_VERSION_HEADER = "mcp-protocol-version"
SESSION_HEADER = "mcp-session-id"
TASK_POLL_INTERVAL_MS = 1000
RELATED_TASK_META_KEY = "io.modelcontextprotocol/related-task"
# tool annotations have no hint for it: a tool that returns people's personal
# data says so in its description and under this ``_meta`` key
PERSONAL_DATA_META_KEY = "odoo-mcp-quotation/personal-data"

# JSON-RPC codes: the standard ones, the MCP ones, and one of our own in the
# implementation-defined band for a missing or wrong API key.
PARSE_ERROR = jsonrpc.PARSE_ERROR
INVALID_REQUEST = jsonrpc.INVALID_REQUEST
METHOD_NOT_FOUND = jsonrpc.METHOD_NOT_FOUND
INVALID_PARAMS = jsonrpc.INVALID_PARAMS
INTERNAL_ERROR = jsonrpc.INTERNAL_ERROR
UNSUPPORTED_PROTOCOL_VERSION = jsonrpc.UNSUPPORTED_PROTOCOL_VERSION
UNAUTHENTICATED = -32010
FORBIDDEN = -32011
SESSION_NOT_FOUND = -32012
RATE_LIMITED = -32013


def at_least(version, minimum):
    return ALL_VERSIONS.index(version) >= ALL_VERSIONS.index(minimum)


# ---------------------------------------------------------------- errors
class McpError(Exception):
    """A JSON-RPC error: the request itself is wrong (unknown method, bad params)."""

    def __init__(self, code, message, data=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def error(self):
        error = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class ToolError(Exception):
    """A tool call the model can correct: answered as a result with ``isError``.

    ``problems`` is ``[{field, message}]`` so the model sees every field to fix.
    """

    def __init__(self, message, problems=()):
        super().__init__(message)
        self.message = message
        self.problems = list(problems)

    def text(self):
        lines = [self.message]
        lines += [f"- {p['field']}: {p['message']}" for p in self.problems]
        return "\n".join(lines)


def error_response(request_id, code, message, data=None):
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": McpError(code, message, data).error(),
    }


def unsupported_version_error(requested, supported):
    """The -32022 error whose ``supported`` list lets a client retry or fall back."""
    data = types.UnsupportedProtocolVersionErrorData(
        supported=list(supported), requested=requested
    ).model_dump(mode="json", by_alias=True)
    return error_response(
        None,
        UNSUPPORTED_PROTOCOL_VERSION,
        f"Unsupported MCP protocol version {requested!r}: use one of "
        f"{', '.join(supported)} (initialize negotiates it).",
        data,
    )


# ---------------------------------------------------------------- tools
@dataclass(frozen=True)
class Tool:
    """A tool and its contract; ``handler(context, arguments)`` returns a dict.

    The handler raises :class:`ToolError` for anything the model can fix; the
    dict it returns is the ``structuredContent`` and matches ``output_schema``.
    """

    name: str
    title: str
    description: str
    input_schema: dict
    output_schema: dict
    handler: Callable[[Any, dict], dict]
    read_only: bool = True
    destructive: bool = False
    idempotent: bool = True
    task_support: str | None = None  # "optional": may run as an MCP task
    personal_data: bool = False

    def definition(self, version):
        tool = types.Tool(
            name=self.name,
            title=self.title,
            description=self.description,
            input_schema=self.input_schema,
            annotations=types.ToolAnnotations(
                title=self.title,
                read_only_hint=self.read_only,
                destructive_hint=self.destructive,
                idempotent_hint=self.idempotent,
                open_world_hint=False,
            ),
            meta={PERSONAL_DATA_META_KEY: True} if self.personal_data else None,
        )
        if at_least(version, STRUCTURED_OUTPUT_SINCE):
            tool.output_schema = self.output_schema
        if self.task_support and at_least(version, TASKS_SINCE):
            tool.execution = types.ToolExecution(task_support=self.task_support)
        return tool.model_dump(mode="json", by_alias=True, exclude_none=True)


def tool_result(structured, version, related_task=None):
    """A CallToolResult: the JSON as text for every client, structured for new ones."""
    result = types.CallToolResult(
        content=[types.TextContent(type="text", text=dumps(structured))],
        structured_content=structured
        if at_least(version, STRUCTURED_OUTPUT_SINCE)
        else None,
    )
    return _with_related_task(_serialize("tools/call", version, result), related_task)


def tool_error_result(error, version, related_task=None):
    result = types.CallToolResult(
        content=[types.TextContent(type="text", text=error.text())], is_error=True
    )
    return _with_related_task(_serialize("tools/call", version, result), related_task)


def _with_related_task(result, task_id):
    if task_id:
        result.setdefault("_meta", {})[RELATED_TASK_META_KEY] = {"taskId": task_id}
    return result


# ---------------------------------------------------------------- stores
class SessionStore(Protocol):
    """Where a transport keeps sessions (PostgreSQL in Odoo, a dict in tests)."""

    def initialized(self, session_id, version, client_info):
        """Record a negotiated session; return its id (a new one if None)."""

    def protocol_version(self, session_id):
        """The session's negotiated version, or None if it is unknown or ended."""

    def close(self, session_id):
        """End the session; return False if it did not exist."""


class TaskStore(Protocol):
    """MCP tasks (2025-11-25) backed by the adapter's own durable jobs.

    Every method returns ``mcp_types.Task`` objects; an unknown id raises
    ``McpError(INVALID_PARAMS)``.
    """

    def start(self, context, tool, arguments):
        """Start the tool as a task; raise ToolError if the arguments are wrong."""

    def get(self, context, task_id): ...

    def wait(self, context, task_id, timeout):
        """Return the task once terminal, or as it is when ``timeout`` runs out."""

    def result(self, context, task_id):
        """The finished task's tool output (dict) or ToolError."""

    def list(self, context, cursor):
        """Return (tasks, next_cursor)."""

    def cancel(self, context, task_id): ...


TERMINAL_TASK_STATUSES = ("completed", "failed", "cancelled")


# ---------------------------------------------------------------- the server
@dataclass
class Exchange:
    """One JSON-RPC message being served: its version, caller and session."""

    version: str
    context: Any
    supported_versions: tuple = STREAMABLE_HTTP_VERSIONS
    sessions: SessionStore | None = None
    session_id: str | None = None
    new_session_id: str | None = None


@dataclass
class McpServer:
    """Dispatches JSON-RPC messages to tools; knows nothing of HTTP or Odoo."""

    name: str
    version: str
    title: str
    instructions: str
    tools: list
    tasks: TaskStore | None = None
    task_result_timeout: float = 25.0
    _by_name: dict = field(init=False, repr=False)
    _tool_lists: dict = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self):
        self._by_name = {tool.name: tool for tool in self.tools}
        self._methods = {
            "initialize": self._initialize,
            "ping": self._ping,
            "tools/list": self._list_tools,
            "tools/call": self._call_tool,
            "tasks/get": self._get_task,
            "tasks/result": self._task_result,
            "tasks/list": self._list_tasks,
            "tasks/cancel": self._cancel_task,
        }

    # ------------------------------------------------------------ messages
    def handle(self, message, exchange):
        """Serve one decoded JSON-RPC message; return the response or None."""
        try:
            request = _envelope(message)
        except McpError as error:
            return {"jsonrpc": "2.0", "id": error.request_id, "error": error.error()}
        if request is None:
            return None  # notifications and client answers get no response
        try:
            return {
                "jsonrpc": "2.0",
                "id": request.id,
                "result": self._dispatch(request.method, request.params, exchange),
            }
        except McpError as error:
            return {"jsonrpc": "2.0", "id": request.id, "error": error.error()}
        except Exception:
            _logger.exception("MCP %s failed", request.method)
            return error_response(
                request.id,
                INTERNAL_ERROR,
                "Internal error: the server logged the details. Try again later.",
            )

    def _dispatch(self, method, params, exchange):
        handler = self._methods.get(method)
        if handler is None or (
            method.startswith("tasks/")
            and not (self.tasks and at_least(exchange.version, TASKS_SINCE))
        ):
            raise McpError(METHOD_NOT_FOUND, f"Method not found: {method}.")
        return handler(params or {}, exchange)

    def _parse(self, method, params, exchange):
        """Validate params with the official model of this method and version."""
        try:
            return mcp_methods.parse_client_request(method, exchange.version, params)
        except KeyError:
            raise McpError(
                METHOD_NOT_FOUND,
                f"Method not found: {method} (protocol {exchange.version}).",
            ) from None
        except ValidationError as error:
            raise McpError(
                INVALID_PARAMS, f"Invalid params for {method}.", _errors(error)
            ) from None

    # ------------------------------------------------------------ lifecycle
    def _initialize(self, params, exchange):
        request = self._parse("initialize", params, exchange)
        requested = request.params.protocol_version
        supported = exchange.supported_versions
        version = requested if requested in supported else supported[-1]
        if exchange.sessions is not None:
            exchange.new_session_id = exchange.sessions.initialized(
                exchange.session_id,
                version,
                request.params.client_info.model_dump(mode="json", exclude_none=True),
            )
        capabilities = types.ServerCapabilities(
            tools=types.ToolsCapability(list_changed=False)
        )
        if self.tasks and at_least(version, TASKS_SINCE):
            capabilities.tasks = types.ServerTasksCapability(
                list=types.TasksListCapability(),
                cancel=types.TasksCancelCapability(),
                requests=types.ServerTasksRequestsCapability(
                    tools=types.TasksToolsCapability(call=types.TasksCallCapability())
                ),
            )
        result = types.InitializeResult(
            protocol_version=version,
            capabilities=capabilities,
            server_info=types.Implementation(
                name=self.name, title=self.title, version=self.version
            ),
            instructions=self.instructions,
        )
        exchange.version = version
        return _serialize("initialize", version, result)

    def _ping(self, params, exchange):
        self._parse("ping", params or None, exchange)
        return {}

    # ------------------------------------------------------------ tools
    def _list_tools(self, params, exchange):
        self._parse("tools/list", params or None, exchange)
        version = exchange.version
        if version not in self._tool_lists:  # the same for every call: built once
            self._tool_lists[version] = mcp_methods.serialize_server_result(
                "tools/list",
                version,
                {"tools": [tool.definition(version) for tool in self.tools]},
            )
        return self._tool_lists[version]

    def _call_tool(self, params, exchange):
        request = self._parse("tools/call", params, exchange).params
        tool = self._by_name.get(request.name)
        if tool is None:
            raise McpError(
                INVALID_PARAMS,
                f"Unknown tool: {request.name}. Call tools/list for the tools offered.",
            )
        arguments = request.arguments or {}
        if request.task is not None and at_least(exchange.version, TASKS_SINCE):
            return self._call_tool_as_task(tool, arguments, exchange)
        try:
            structured = tool.handler(exchange.context, arguments)
        except ToolError as error:
            return tool_error_result(error, exchange.version)
        return tool_result(structured, exchange.version)

    # ------------------------------------------------------------ tasks
    def _call_tool_as_task(self, tool, arguments, exchange):
        if not (self.tasks and tool.task_support):
            raise McpError(
                METHOD_NOT_FOUND,
                f"The tool {tool.name} does not run as a task: call it without 'task'.",
            )
        try:
            task = self.tasks.start(exchange.context, tool, arguments)
        except ToolError as error:
            raise McpError(INVALID_PARAMS, error.text(), error.problems) from None
        return {"task": _task_json(types.CreateTaskResult(task=task).task)}

    def _task_id(self, method, params):
        model = {
            "tasks/get": types.GetTaskRequestParams,
            "tasks/result": types.GetTaskPayloadRequestParams,
            "tasks/cancel": types.CancelTaskRequestParams,
        }[method]
        try:
            return model.model_validate(params).task_id
        except ValidationError as error:
            raise McpError(
                INVALID_PARAMS, f"Invalid params for {method}.", _errors(error)
            ) from None

    def _get_task(self, params, exchange):
        task_id = self._task_id("tasks/get", params)
        return _task_json(self.tasks.get(exchange.context, task_id))

    def _task_result(self, params, exchange):
        task_id = self._task_id("tasks/result", params)
        task = self.tasks.wait(exchange.context, task_id, self.task_result_timeout)
        if task.status not in TERMINAL_TASK_STATUSES:
            raise McpError(
                INTERNAL_ERROR,
                f"The task is still {task.status}: call tasks/result again, or "
                "poll tasks/get.",
                {"taskId": task_id, "status": task.status},
            )
        try:
            structured = self.tasks.result(exchange.context, task_id)
        except ToolError as error:
            return tool_error_result(error, exchange.version, task_id)
        return tool_result(structured, exchange.version, task_id)

    def _list_tasks(self, params, exchange):
        try:
            cursor = types.PaginatedRequestParams.model_validate(params).cursor
        except ValidationError as error:
            raise McpError(
                INVALID_PARAMS, "Invalid params for tasks/list.", _errors(error)
            ) from None
        tasks, next_cursor = self.tasks.list(exchange.context, cursor)
        result = {"tasks": [_task_json(task) for task in tasks]}
        if next_cursor:
            result["nextCursor"] = next_cursor
        return result

    def _cancel_task(self, params, exchange):
        task_id = self._task_id("tasks/cancel", params)
        return _task_json(self.tasks.cancel(exchange.context, task_id))


def _envelope(message):
    """The request in a message; None for notifications and client answers.

    Raises McpError (with ``request_id``) for anything else. An ``id`` of null
    makes an invalid request, never a notification.
    """
    if not isinstance(message, dict):
        raise _invalid(None, "A message must be an object.")
    if "method" not in message:
        if "id" in message and ("result" in message or "error" in message):
            return None  # a client's answer: this server asks nothing
        raise _invalid(_safe_id(message), "Not a JSON-RPC request.")
    if "id" not in message:
        if message.get("jsonrpc") != "2.0" or not isinstance(message["method"], str):
            raise _invalid(None, "Invalid JSON-RPC message.")
        return None
    request_id = message["id"]
    if request_id is None or isinstance(request_id, bool | float):
        raise _invalid(
            None, "The request id must be a string or an integer (null is not allowed)."
        )
    try:
        return jsonrpc.JSONRPCRequest.model_validate(message)
    except ValidationError as error:
        raise _invalid(
            request_id, "Invalid JSON-RPC request.", _errors(error)
        ) from None


def _invalid(request_id, message, data=None):
    error = McpError(INVALID_REQUEST, message, data)
    error.request_id = request_id
    return error


def _task_json(task):
    data = task.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["ttl"] = task.ttl  # required, null means kept without limit
    return data


def _serialize(method, version, result):
    return mcp_methods.serialize_server_result(
        method, version, result.model_dump(mode="json", by_alias=True)
    )


def _errors(error):
    return [
        {"field": ".".join(str(p) for p in item["loc"]), "message": item["msg"]}
        for item in error.errors(include_url=False, include_context=False)
    ]


def _safe_id(message):
    request_id = message.get("id")
    return request_id if isinstance(request_id, str | int) else None


def dumps(value):
    """Compact UTF-8 JSON, as sent on the wire."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------- HTTP rules
@dataclass
class HttpReply:
    """What a transport sends back; ``body`` is JSON-serialisable or None."""

    status: int
    body: Any = None
    headers: dict = field(default_factory=dict)

    def content(self):
        return b"" if self.body is None else dumps(self.body).encode()


def _header(headers, name):
    """Headers as a plain dict in tests or werkzeug's in Odoo: case-insensitive."""
    if isinstance(headers, Mapping) and not hasattr(headers, "getlist"):
        for key, value in headers.items():
            if key.lower() == name:
                return value
        return None
    return headers.get(name)


def normalize_origin(origin):
    """``scheme://host[:port]`` in lower case, default ports dropped."""
    parts = urlsplit(origin.strip().rstrip("/").lower())
    if not parts.scheme or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}.get(parts.scheme)
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def origin_allowed(origin, allowed):
    """DNS-rebinding protection: an Origin that is present must be allowed.

    Clients that are not browsers send no Origin and pass. ``allowed`` holds
    origins (``https://claude.ai``) or ``*``.
    """
    if not origin:
        return True
    if "*" in allowed:
        return True
    normalized = normalize_origin(origin)
    return bool(normalized) and normalized in {normalize_origin(a) for a in allowed}


def forbidden_origin_reply(origin):
    return HttpReply(
        403,
        error_response(
            None,
            FORBIDDEN,
            f"Origin {origin} is not allowed to use this MCP server: an Odoo "
            "administrator can add it to the allowed origins in Settings.",
        ),
    )


def unauthenticated_reply(message, www_authenticate):
    return HttpReply(
        401,
        error_response(None, UNAUTHENTICATED, message),
        {"WWW-Authenticate": www_authenticate},
    )


def rate_limited_reply(message, wait):
    return HttpReply(
        429, error_response(None, RATE_LIMITED, message), {"Retry-After": str(wait)}
    )


def wants_event_stream(accept):
    """A client that accepts only ``text/event-stream`` gets its answer as SSE."""
    accept = (accept or "").lower()
    return (
        "text/event-stream" in accept
        and "application/json" not in accept
        and "*/*" not in accept
    )


def sse_event(data, event="message"):
    return f"event: {event}\ndata: {data}\n\n".encode()


SSE_KEEPALIVE = b": keep-alive\n\n"


MAX_MESSAGE_BYTES = 1024 * 1024


def _decode(body):
    try:
        return parse_json(body or b"", MAX_MESSAGE_BYTES), None
    except JsonBodyError as error:
        return None, _parse_error_reply(error)


def _parse_error_reply(error):
    return HttpReply(
        413 if error.too_large else 400,
        error_response(None, PARSE_ERROR, f"Parse error: {error.reason}"),
    )


def too_large_reply():
    """For a transport that sees the announced length before reading the body."""
    return _parse_error_reply(JsonBodyError.too_large_for(MAX_MESSAGE_BYTES))


def _is_initialize(payload):
    return isinstance(payload, dict) and payload.get("method") == "initialize"


def _http_version(server, headers, payload, sessions):
    """The revision that governs a POST, or an error reply (400/404)."""
    session_id = _header(headers, SESSION_HEADER)
    session_version = None
    if session_id and sessions is not None:
        session_version = sessions.protocol_version(session_id)
        if session_version is None:
            return None, HttpReply(
                404,
                error_response(
                    None,
                    SESSION_NOT_FOUND,
                    "Unknown or ended MCP session: initialize a new one.",
                ),
            )
    if _is_initialize(payload):
        return LATEST_VERSION, None  # negotiated in the body, not the header
    requested = _header(headers, PROTOCOL_VERSION_HEADER)
    if requested is None:
        return session_version or DEFAULT_VERSION, None
    if requested not in STREAMABLE_HTTP_VERSIONS:
        return None, HttpReply(
            400, unsupported_version_error(requested, STREAMABLE_HTTP_VERSIONS)
        )
    return requested, None


def serve_post(server, headers, body, context, sessions=None):
    """Streamable HTTP POST: one message or a batch in, JSON (or 202) out."""
    payload, reply = _decode(body)
    if reply:
        return reply
    version, reply = _http_version(server, headers, payload, sessions)
    if reply:
        return reply
    exchange = Exchange(
        version=version,
        context=context,
        supported_versions=STREAMABLE_HTTP_VERSIONS,
        sessions=sessions,
        session_id=None,  # initialize always opens a new session
    )
    if isinstance(payload, list):
        responses, reply = _serve_batch(server, payload, exchange)
        if reply:
            return reply
    else:
        response = server.handle(payload, exchange)
        responses = [response] if response else []
        if response and "error" in response and response["id"] is None:
            return HttpReply(400, response)
    if not responses:
        return HttpReply(202)
    reply = HttpReply(200, responses if isinstance(payload, list) else responses[0])
    if exchange.new_session_id:
        reply.headers["Mcp-Session-Id"] = exchange.new_session_id
    if wants_event_stream(_header(headers, "accept")):
        reply.headers["Content-Type"] = "text/event-stream"
    return reply


def _serve_batch(server, payload, exchange):
    if exchange.version not in BATCH_VERSIONS:
        return None, HttpReply(
            400,
            error_response(
                None,
                INVALID_REQUEST,
                f"JSON-RPC batches are not part of MCP {exchange.version}: send "
                "one message per request.",
            ),
        )
    if not payload:
        return None, HttpReply(
            400, error_response(None, INVALID_REQUEST, "An empty batch.")
        )
    responses = []
    for message in payload:
        if _is_initialize(message):
            response = error_response(
                _safe_id(message),
                INVALID_REQUEST,
                "initialize must be sent alone, not in a batch.",
            )
        else:
            response = server.handle(message, exchange)
        if response:
            responses.append(response)
    return responses, None


def serve_delete(headers, sessions):
    """End a session (DELETE /mcp)."""
    session_id = _header(headers, SESSION_HEADER)
    if not session_id:
        return HttpReply(
            400,
            error_response(None, INVALID_REQUEST, "Send the Mcp-Session-Id to end."),
        )
    if not sessions.close(session_id):
        return HttpReply(
            404,
            error_response(
                None, SESSION_NOT_FOUND, "Unknown or already ended session."
            ),
        )
    return HttpReply(204)


def serve_get():
    """This server pushes nothing unprompted, so it opens no GET stream."""
    return HttpReply(
        405,
        error_response(
            None,
            INVALID_REQUEST,
            "GET opens no stream here: POST JSON-RPC messages to this URL "
            "(legacy SSE clients use /mcp/sse).",
        ),
        {"Allow": "POST, DELETE"},
    )


def serve_sse_message(server, body, context, sessions, session_id):
    """Legacy HTTP+SSE POST: returns the HTTP reply and what to push on the stream."""
    payload, reply = _decode(body)
    if reply:
        return reply, []
    version = sessions.protocol_version(session_id)
    if version is None:
        return HttpReply(
            404,
            error_response(
                None, SESSION_NOT_FOUND, "Unknown or ended SSE session: reconnect."
            ),
        ), []
    exchange = Exchange(
        version=version,
        context=context,
        supported_versions=LEGACY_SSE_VERSIONS,
        sessions=sessions,
        session_id=session_id,
    )
    if isinstance(payload, list):
        responses, reply = _serve_batch(server, payload, exchange)
        if reply:
            return reply, []
        return HttpReply(202), [responses] if responses else []
    response = server.handle(payload, exchange)
    return HttpReply(202), [response] if response else []
