"""The MCP protocol core: versions, errors, tools, and dispatch of JSON-RPC messages.

No Odoo here, not even indirectly, so that it can be tested and reasoned about
on its own; the transports live beside it (``protocol_http`` for Streamable
HTTP, ``protocol_sse`` for legacy HTTP+SSE, ``protocol_security`` for the
Origin check and the auth replies), the Odoo adapter in ``services/mcp_tools.py``.
Requests are validated and results serialised with the official ``mcp_types``
models and version helpers, per protocol revision: the handshake revisions
(``initialize`` opens a session) and the stateless 2026-07-28 one, where
every request carries its version and client capabilities in ``_meta``.
"""

import base64
import binascii
import logging
import secrets
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Protocol

import mcp_types as types
from mcp_types import jsonrpc
from mcp_types import methods as mcp_methods
from mcp_types.version import (
    HANDSHAKE_PROTOCOL_VERSIONS,
    LATEST_HANDSHAKE_VERSION,
    MODERN_PROTOCOL_VERSIONS,
    is_version_at_least,
)
from pydantic import ValidationError

from ..lib.json_body import FORBIDDEN_IN_LINE
from .framing import dumps

_logger = logging.getLogger(__name__)

# ---------------------------------------------------------------- versions
# Streamable HTTP came with 2025-03-26; legacy SSE speaks every handshake one.
HANDSHAKE_HTTP_VERSIONS = tuple(
    v for v in HANDSHAKE_PROTOCOL_VERSIONS if is_version_at_least(v, "2025-03-26")
)
LEGACY_SSE_VERSIONS = HANDSHAKE_PROTOCOL_VERSIONS
STREAMABLE_HTTP_VERSIONS = (*HANDSHAKE_HTTP_VERSIONS, *MODERN_PROTOCOL_VERSIONS)
# served when a request after initialize carries no MCP-Protocol-Version header
DEFAULT_VERSION = types.DEFAULT_NEGOTIATED_VERSION
BATCH_VERSIONS = ("2025-03-26",)  # added in 2025-03-26, removed in 2025-06-18
STRUCTURED_OUTPUT_SINCE = "2025-06-18"
TASKS_SINCE = "2025-11-25"
# a handshake-era server asks its client with an ``elicitation/create`` request
# of its own, sent on the stream that answers the tools/call (form mode came
# with 2025-11-25); 2026-07-28 answers with an input-required result instead
ELICITATION_SINCE = "2025-11-25"
ELICITATION_REQUEST_PREFIX = "elicit-"
SUBSCRIPTION_ID_META_KEY = "io.modelcontextprotocol/subscriptionId"

PROTOCOL_VERSION_HEADER = "mcp-protocol-version"
SESSION_HEADER = "mcp-session-id"
METHOD_HEADER = "mcp-method"
NAME_HEADER = "mcp-name"
TASK_POLL_INTERVAL_MS = 1000
RELATED_TASK_META_KEY = "io.modelcontextprotocol/related-task"
TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
# list results of 2026-07-28 may be cached this long by the client: the tool
# list only changes when the module is upgraded. "private": what a caller is
# offered may depend on who calls.
LIST_TTL_MS = 3_600_000
LIST_CACHE_SCOPE = "private"
# tool annotations have no hint for it: a tool that returns people's personal
# data says so in its description and under this ``_meta`` key
PERSONAL_DATA_META_KEY = "odoo-mcp-quotation/personal-data"
CLIENT_INFO_MAX_CHARS = 128
# the params that 2026-07-28 clients mirror in the Mcp-Name header
NAME_PARAMS = {
    "tools/call": "name",
    "tasks/get": "taskId",
    "tasks/update": "taskId",
    "tasks/cancel": "taskId",
}

# JSON-RPC codes: the standard ones, the MCP ones, and ours in the
# implementation-defined band (missing or wrong API key, and so on).
PARSE_ERROR = jsonrpc.PARSE_ERROR
INVALID_REQUEST = jsonrpc.INVALID_REQUEST
METHOD_NOT_FOUND = jsonrpc.METHOD_NOT_FOUND
INVALID_PARAMS = jsonrpc.INVALID_PARAMS
INTERNAL_ERROR = jsonrpc.INTERNAL_ERROR
HEADER_MISMATCH = jsonrpc.HEADER_MISMATCH
UNSUPPORTED_PROTOCOL_VERSION = jsonrpc.UNSUPPORTED_PROTOCOL_VERSION
UNAUTHENTICATED = -32010
FORBIDDEN = -32011
SESSION_NOT_FOUND = -32012
RATE_LIMITED = -32013


def is_modern(version):
    """2026-07-28 and later: stateless, ``_meta`` on every request."""
    return version in MODERN_PROTOCOL_VERSIONS


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


class InputRequired(Exception):
    """The tool must ask the user before it can go on (2026-07-28).

    ``questions`` maps a key of the tool's choosing to the params of a form
    ``elicitation/create``; the client calls the tool again with the answers
    under the same keys.
    """

    def __init__(self, questions):
        super().__init__(f"{len(questions)} question(s) for the user")
        self.questions = questions


class Asking(Exception):
    """A tools/call that asks its client first (2025-11-25 form elicitation).

    Raised by the server and handed to the transport, which answers the POST
    with an event stream: it sends each of :meth:`requests`, gives the
    client's answer to each (however it travels back) to :meth:`answer`, then
    sends :meth:`response`, computed in a transaction of its own.
    """

    def __init__(self, server, tool, arguments, questions, version):
        super().__init__(f"{len(questions)} question(s) for the client")
        self.server = server
        self.tool = tool
        self.arguments = arguments
        self.version = version
        self.request_id = None  # the tools/call's, set by McpServer.handle
        token = secrets.token_urlsafe(12)
        self._questions = {
            f"{ELICITATION_REQUEST_PREFIX}{token}-{key}": (key, question)
            for key, question in questions.items()
        }
        self._answers = {}

    def requests(self):
        """The ``elicitation/create`` requests, one per question, to send in turn."""
        return [
            {
                "jsonrpc": "2.0",
                "id": request_id,
                "method": "elicitation/create",
                "params": types.ElicitRequestFormParams.model_validate(
                    question
                ).model_dump(mode="json", by_alias=True, exclude_none=True),
            }
            for request_id, (_key, question) in self._questions.items()
        ]

    def answer(self, request_id, message):
        """Record the client's JSON-RPC answer to one request; an error, a
        malformed result or no answer at all (None) counts as cancelled."""
        key, _question = self._questions[request_id]
        result = {"action": "cancel"}
        if isinstance(message, dict) and isinstance(message.get("result"), dict):
            with suppress(ValidationError):
                result = mcp_methods.parse_client_result(
                    "elicitation/create", self.version, message["result"]
                ).model_dump(mode="json", by_alias=True, exclude_none=True)
        self._answers[key] = result

    def response(self, context):
        """The tools/call's response, the tool run again with the answers (a
        question left unanswered counts as cancelled)."""
        answers = {
            key: self._answers.get(key, {"action": "cancel"})
            for key, _question in self._questions.values()
        }
        try:
            try:
                result = self.server.run_tool(
                    self.tool, context, self.arguments, answers, self.version
                )
            except InputRequired:  # asks again: go on as for a client that cannot
                result = self.server.run_tool(
                    self.tool, context, self.arguments, None, self.version
                )
        except Exception:
            _logger.exception("MCP tools/call failed after asking the client")
            return error_response(self.request_id, INTERNAL_ERROR, INTERNAL_MESSAGE)
        return {"jsonrpc": "2.0", "id": self.request_id, "result": result}


INTERNAL_MESSAGE = "Internal error: the server logged the details. Try again later."


def error_response(request_id, code, message, data=None):
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": McpError(code, message, data).error(),
    }


def unsupported_version_error(requested, supported, request_id=None):
    """The -32022 error whose ``supported`` list lets a client retry or fall back."""
    data = types.UnsupportedProtocolVersionErrorData(
        supported=list(supported), requested=requested
    ).model_dump(mode="json", by_alias=True)
    return error_response(
        request_id,
        UNSUPPORTED_PROTOCOL_VERSION,
        f"Unsupported MCP protocol version {requested!r}: use one of "
        f"{', '.join(supported)} (initialize or server/discover tells which).",
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
    # asks: ``handler(context, arguments, answers)``, where ``answers`` are the
    # client's answers so far ({} at first), or None for a client that cannot
    # answer: the handler then goes on without asking
    asks: bool = False
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
        if is_version_at_least(version, STRUCTURED_OUTPUT_SINCE):
            tool.output_schema = self.output_schema
        if (
            self.task_support
            and is_version_at_least(version, TASKS_SINCE)
            and not is_modern(version)  # the tasks extension needs no per-tool flag
        ):
            tool.execution = types.ToolExecution(task_support=self.task_support)
        return tool.model_dump(mode="json", by_alias=True, exclude_none=True)


def tool_result(structured, version, related_task=None):
    """A CallToolResult: the JSON as text for every client, structured for new ones."""
    result = types.CallToolResult(
        content=[types.TextContent(type="text", text=dumps(structured))],
        structured_content=structured
        if is_version_at_least(version, STRUCTURED_OUTPUT_SINCE)
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

    def initialized(self, session_id, version, client_info, asks_forms=False):
        """Record a negotiated session; return its id (a new one if None).
        ``asks_forms``: the client may be asked with form elicitation."""

    def protocol_version(self, session_id):
        """The session's negotiated version, or None if it is unknown or ended."""

    def asks_forms(self, session_id):
        """Whether the session's client declared form elicitation."""

    def stream_allowed(self):
        """Whether one more event stream may be held now (streams are capped)."""

    def deliver(self, session_id, message):
        """Hand a client's answer to the stream that waits for it, if any."""

    def close(self, session_id):
        """End the session; return False if it did not exist."""


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


TERMINAL_TASK_STATUSES = ("completed", "failed", "cancelled")


# ---------------------------------------------------------------- the server
@dataclass
class Exchange:
    """One JSON-RPC message being served: its version, caller and session.

    ``routing`` holds the ``Mcp-Method`` / ``Mcp-Name`` headers a 2026-07-28
    request came with; ``client_capabilities`` are read from its ``_meta``.
    ``can_ask`` is set when the client may be asked on an event stream (it
    tells whether one may be opened now); ``preamble`` holds the messages to
    send on an event stream before the response.
    """

    version: str
    context: Any
    supported_versions: tuple = HANDSHAKE_HTTP_VERSIONS
    sessions: SessionStore | None = None
    session_id: str | None = None
    new_session_id: str | None = None
    routing: dict = field(default_factory=dict)
    client_capabilities: dict = field(default_factory=dict)
    can_ask: Callable[[], bool] | None = None
    request_id: Any = None
    preamble: list = field(default_factory=list)


@dataclass
class McpServer:
    """Dispatches JSON-RPC messages to tools; knows nothing of HTTP or Odoo."""

    name: str
    version: str
    title: str
    instructions: str
    tools: list
    tasks: TaskStore | None = None
    _by_name: dict = field(init=False, repr=False)
    _static: dict = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self):
        self._by_name = {tool.name: tool for tool in self.tools}
        handshake = set(HANDSHAKE_PROTOCOL_VERSIONS)
        modern = set(MODERN_PROTOCOL_VERSIONS)
        core_tasks = {"2025-11-25"}
        # method: (handler, the revisions that have it)
        self._methods = {
            "initialize": (self._initialize, handshake),
            "ping": (self._ping, handshake),
            "server/discover": (self._discover, modern),
            "tools/list": (self._list_tools, handshake | modern),
            "tools/call": (self._call_tool, handshake | modern),
            "tasks/get": (self._get_task, core_tasks | modern),
            "tasks/cancel": (self._cancel_task, core_tasks | modern),
            "tasks/result": (self._task_result, core_tasks),
            "tasks/list": (self._list_tasks, core_tasks),
            "tasks/update": (self._update_task, modern),
            "subscriptions/listen": (self._listen, modern),
        }

    def calls_writing_tool(self, message):
        """Whether ``message`` calls a tool that writes: a transport may have
        work to start once it has answered."""
        if not isinstance(message, dict) or message.get("method") != "tools/call":
            return False
        params = message.get("params")
        tool = isinstance(params, dict) and self._by_name.get(params.get("name"))
        return bool(tool) and not tool.read_only

    # ------------------------------------------------------------ messages
    def handle(self, message, exchange):
        """Serve one decoded JSON-RPC message; return the response or None,
        or :class:`Asking` when the transport must ask the client first."""
        try:
            request = _envelope(message)
        except McpError as error:
            return {"jsonrpc": "2.0", "id": error.request_id, "error": error.error()}
        if request is None:
            return None  # notifications and client answers get no response
        exchange.request_id = request.id
        try:
            if is_modern(exchange.version):
                self._check_modern_envelope(request, exchange)
            return {
                "jsonrpc": "2.0",
                "id": request.id,
                "result": self._dispatch(request.method, request.params, exchange),
            }
        except McpError as error:
            return {"jsonrpc": "2.0", "id": request.id, "error": error.error()}
        except Asking as asking:
            asking.request_id = request.id
            return asking
        except Exception:
            _logger.exception("MCP %s failed", request.method)
            return error_response(request.id, INTERNAL_ERROR, INTERNAL_MESSAGE)

    def _check_modern_envelope(self, request, exchange):
        """2026-07-28: ``_meta`` carries version and capabilities, and agrees
        with the ``MCP-Protocol-Version``, ``Mcp-Method`` and ``Mcp-Name`` headers."""
        params = request.params or {}
        meta = params.get("_meta")
        required = (types.PROTOCOL_VERSION_META_KEY, types.CLIENT_CAPABILITIES_META_KEY)
        if not isinstance(meta, dict) or any(key not in meta for key in required):
            raise McpError(
                INVALID_PARAMS,
                f"params._meta must carry {' and '.join(required)}: MCP "
                f"{exchange.version} sends them with every request.",
            )
        if meta[types.PROTOCOL_VERSION_META_KEY] != exchange.version:
            raise McpError(
                HEADER_MISMATCH,
                "The MCP-Protocol-Version header and params._meta name different "
                "versions: send the same one in both.",
            )
        if exchange.routing.get("method") != request.method:
            raise McpError(
                HEADER_MISMATCH,
                f"The Mcp-Method header must be the request's method "
                f"({request.method}).",
            )
        name_param = NAME_PARAMS.get(request.method)
        named = params.get(name_param) if name_param else None
        if named is not None and _decode_header(exchange.routing.get("name")) != named:
            raise McpError(
                HEADER_MISMATCH,
                f"The Mcp-Name header must be params.{name_param} ({named}).",
            )
        capabilities = meta[types.CLIENT_CAPABILITIES_META_KEY]
        exchange.client_capabilities = (
            capabilities if isinstance(capabilities, dict) else {}
        )

    def _dispatch(self, method, params, exchange):
        handler, versions = self._methods.get(method, (None, ()))
        if (
            handler is None
            or exchange.version not in versions
            or (method.startswith("tasks/") and not self.tasks)
        ):
            raise McpError(
                METHOD_NOT_FOUND,
                f"Method not found: {method} (protocol {exchange.version}).",
            )
        return handler(params or {}, exchange)

    def _parse(self, method, params, exchange):
        """Validate params with the official model of this method and version."""
        try:
            return mcp_methods.parse_client_request(method, exchange.version, params)
        except ValidationError as error:
            raise McpError(
                INVALID_PARAMS, f"Invalid params for {method}.", _errors(error)
            ) from None

    def _cached(self, method, version, build):
        """Results that only depend on the method and revision are built and
        serialised once per process."""
        key = (method, version)
        if key not in self._static:
            self._static[key] = _serialize(method, version, build())
        return self._static[key]

    def _capabilities(self, version):
        capabilities = types.ServerCapabilities(
            tools=types.ToolsCapability(list_changed=False)
        )
        if self.tasks and is_modern(version):
            capabilities.extensions = {TASKS_EXTENSION: {}}
        elif self.tasks and is_version_at_least(version, TASKS_SINCE):
            capabilities.tasks = types.ServerTasksCapability(
                list=types.TasksListCapability(),
                cancel=types.TasksCancelCapability(),
                requests=types.ServerTasksRequestsCapability(
                    tools=types.TasksToolsCapability(call=types.TasksCallCapability())
                ),
            )
        return capabilities

    def _server_info(self):
        return types.Implementation(
            name=self.name, title=self.title, version=self.version
        )

    # ------------------------------------------------------------ lifecycle
    def _initialize(self, params, exchange):
        request = self._parse("initialize", params, exchange)
        requested = request.params.protocol_version
        supported = exchange.supported_versions
        version = requested if requested in supported else LATEST_HANDSHAKE_VERSION
        if exchange.sessions is not None:
            client = request.params.client_info
            exchange.new_session_id = exchange.sessions.initialized(
                exchange.session_id,
                version,
                {"name": _label(client.name), "version": _label(client.version)},
                asks_forms=is_version_at_least(version, ELICITATION_SINCE)
                and _answers_forms(
                    (params.get("capabilities") or {}).get("elicitation")
                ),
            )
        result = types.InitializeResult(
            protocol_version=version,
            capabilities=self._capabilities(version),
            server_info=self._server_info(),
            instructions=self.instructions,
        )
        exchange.version = version
        return _serialize("initialize", version, result)

    def _ping(self, params, exchange):
        self._parse("ping", params or None, exchange)
        return {}

    def _discover(self, params, exchange):
        """2026-07-28's replacement for initialize: what this server speaks."""
        self._parse("server/discover", params, exchange)
        version = exchange.version
        return self._cached(
            "server/discover",
            version,
            lambda: types.DiscoverResult(
                supported_versions=list(STREAMABLE_HTTP_VERSIONS),
                capabilities=self._capabilities(version),
                instructions=self.instructions,
                ttl_ms=LIST_TTL_MS,
                cache_scope=LIST_CACHE_SCOPE,
                meta={types.SERVER_INFO_META_KEY: self._server_info()},
            ),
        )

    # ------------------------------------------------------------ tools
    def _list_tools(self, params, exchange):
        self._parse("tools/list", params or None, exchange)
        version = exchange.version
        return self._cached(
            "tools/list",
            version,
            lambda: types.ListToolsResult.model_validate(
                {
                    "tools": [tool.definition(version) for tool in self.tools],
                    "ttlMs": LIST_TTL_MS,
                    "cacheScope": LIST_CACHE_SCOPE,
                }
            ),
        )

    def _call_tool(self, params, exchange):
        request = self._parse("tools/call", params, exchange).params
        tool = self._by_name.get(request.name)
        if tool is None:
            raise McpError(
                INVALID_PARAMS,
                f"Unknown tool: {request.name}. Call tools/list for the tools offered.",
            )
        arguments = request.arguments or {}
        answers = self._answers(params, exchange) if tool.asks else None
        if self._runs_as_task(tool, request, exchange):
            return self._call_tool_as_task(tool, arguments, exchange)
        version = exchange.version
        try:
            return self.run_tool(tool, exchange.context, arguments, answers, version)
        except InputRequired as needed:
            if is_modern(version):
                return _input_required(needed.questions, version)
            if not (exchange.can_ask and exchange.can_ask()):  # no stream free now
                # go on as for a client that cannot answer
                return self.run_tool(tool, exchange.context, arguments, None, version)
            raise Asking(self, tool, arguments, needed.questions, version) from None

    def run_tool(self, tool, context, arguments, answers, version):
        """The tool's result (``isError`` for a ToolError); InputRequired
        propagates."""
        try:
            if tool.asks:
                structured = tool.handler(context, arguments, answers)
            else:
                structured = tool.handler(context, arguments)
        except ToolError as error:
            return tool_error_result(error, version)
        return tool_result(structured, version)

    def _answers(self, params, exchange):
        """The client's answers to a tool's questions: ``{key: ElicitResult}``,
        or None when the client cannot be asked (no form elicitation among this
        request's capabilities at 2026-07-28, or none in its session before)."""
        if not is_modern(exchange.version):
            return {} if exchange.can_ask else None  # asked on the stream
        if not _answers_forms(exchange.client_capabilities.get("elicitation")):
            return None
        responses = params.get("inputResponses") or {}
        return {
            key: answer for key, answer in responses.items() if isinstance(answer, dict)
        }

    def _runs_as_task(self, tool, request, exchange):
        """2025-11-25: the client asks with ``task``; 2026-07-28: the server
        decides, for clients that declare the tasks extension."""
        if is_modern(exchange.version):
            extensions = exchange.client_capabilities.get("extensions") or {}
            return bool(
                self.tasks and tool.task_support and TASKS_EXTENSION in extensions
            )
        return request.task is not None and is_version_at_least(
            exchange.version, TASKS_SINCE
        )

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
        if is_modern(exchange.version):
            return {"resultType": "task", **_task_json(task, exchange.version)}
        return {
            "task": _task_json(types.CreateTaskResult(task=task).task, exchange.version)
        }

    def _task_id(self, method, params):
        model = {
            "tasks/get": types.GetTaskRequestParams,
            "tasks/result": types.GetTaskPayloadRequestParams,
            "tasks/cancel": types.CancelTaskRequestParams,
            "tasks/update": types.GetTaskRequestParams,
        }[method]
        try:
            return model.model_validate(params).task_id
        except ValidationError as error:
            raise McpError(
                INVALID_PARAMS, f"Invalid params for {method}.", _errors(error)
            ) from None

    def _get_task(self, params, exchange):
        task_id = self._task_id("tasks/get", params)
        task = self.tasks.get(exchange.context, task_id)
        data = _task_json(task, exchange.version)
        if not is_modern(exchange.version):
            return data
        # the extension inlines the outcome: a finished quotation request is a
        # completed tool call, its failure a tool result with isError
        if task.status in ("completed", "failed"):
            data["status"] = "completed"
            data["result"] = self._task_outcome(task_id, exchange)
        return {"resultType": "complete", **data}

    def _task_outcome(self, task_id, exchange, related_task=None):
        try:
            structured = self.tasks.result(exchange.context, task_id)
        except ToolError as error:
            return tool_error_result(error, exchange.version, related_task)
        return tool_result(structured, exchange.version, related_task)

    def _task_result(self, params, exchange):
        """2025-11-25's tasks/result: the outcome, or, when the store stopped
        waiting first, an error telling the client to poll tasks/get."""
        task_id = self._task_id("tasks/result", params)
        task = self.tasks.wait(exchange.context, task_id)
        if task.status not in TERMINAL_TASK_STATUSES:
            raise McpError(
                INVALID_PARAMS,
                f"The task is still {task.status}: poll tasks/get every "
                f"{TASK_POLL_INTERVAL_MS} ms and call tasks/result once it is "
                "completed or failed.",
                {"taskId": task_id, "status": task.status},
            )
        return self._task_outcome(task_id, exchange, task_id)

    def _list_tasks(self, params, exchange):
        try:
            cursor = types.PaginatedRequestParams.model_validate(params).cursor
        except ValidationError as error:
            raise McpError(
                INVALID_PARAMS, "Invalid params for tasks/list.", _errors(error)
            ) from None
        tasks, next_cursor = self.tasks.list(exchange.context, cursor)
        result = {"tasks": [_task_json(task, exchange.version) for task in tasks]}
        if next_cursor:
            result["nextCursor"] = next_cursor
        return result

    def _cancel_task(self, params, exchange):
        task_id = self._task_id("tasks/cancel", params)
        if not is_modern(exchange.version):
            return _task_json(
                self.tasks.cancel(exchange.context, task_id), exchange.version
            )
        # the extension's cancel is a cooperative request, acknowledged even
        # when the quotation is already being built (it then completes)
        if self.tasks.get(exchange.context, task_id).status == "working":
            with suppress(McpError):
                self.tasks.cancel(exchange.context, task_id)
        return {"resultType": "complete"}

    def _update_task(self, params, exchange):
        """Input responses for a task: these tasks never wait for input, so
        every response is for no outstanding request and is ignored."""
        self.tasks.get(exchange.context, self._task_id("tasks/update", params))
        return {"resultType": "complete"}

    # ------------------------------------------------------------ subscriptions
    def _listen(self, params, exchange):
        """2026-07-28's stream of change notifications: acknowledged, then
        closed gracefully at once. The tool list never changes while the
        server runs and there are no prompts or resources, so none of the
        notifications a client may ask for is honoured; held open, the stream
        would carry nothing and only keep a worker and a connection busy."""
        self._parse("subscriptions/listen", params, exchange)
        meta = {SUBSCRIPTION_ID_META_KEY: exchange.request_id}
        exchange.preamble.append(
            {
                "jsonrpc": "2.0",
                "method": "notifications/subscriptions/acknowledged",
                "params": {"_meta": meta, "notifications": {}},
            }
        )
        return mcp_methods.serialize_server_result(
            "subscriptions/listen",
            exchange.version,
            {"resultType": "complete", "_meta": meta},
        )


def _answers_forms(elicitation):
    """Whether an ``elicitation`` capability takes forms (``{}`` means forms)."""
    return isinstance(elicitation, dict) and (not elicitation or "form" in elicitation)


def _label(reported):
    """What a client says of itself, as admins see it: one short line, whatever
    it sends."""
    return FORBIDDEN_IN_LINE.sub("\ufffd", reported)[:CLIENT_INFO_MAX_CHARS]


def _input_required(questions, version):
    """The 2026-07-28 result that asks the client's user before going on."""
    return mcp_methods.serialize_server_result(
        "tools/call",
        version,
        {
            "resultType": "input_required",
            "inputRequests": {
                key: {
                    "method": "elicitation/create",
                    "params": {"mode": "form", **question},
                }
                for key, question in questions.items()
            },
        },
    )


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


def _decode_header(value):
    """An ``Mcp-Name`` value: plain ASCII, or ``=?base64?…?=`` for anything else."""
    if value and value.startswith("=?base64?") and value.endswith("?="):
        with suppress(binascii.Error, UnicodeDecodeError):
            return base64.b64decode(value[9:-2], validate=True).decode()
    return value


def _task_json(task, version):
    data = task.model_dump(mode="json", by_alias=True, exclude_none=True)
    if is_modern(version):  # the extension's names for the same two hints
        data.pop("pollInterval", None)
        data["ttlMs"] = task.ttl
        data["pollIntervalMs"] = task.poll_interval
    else:
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
