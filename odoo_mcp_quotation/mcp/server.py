"""The MCP server: dispatch of JSON-RPC messages to the protocol's methods.

No Odoo here, not even indirectly, so that it can be tested and reasoned
about on its own. Beside it, as in the SDK: ``errors``, ``tools`` (tool
definitions and results), ``tasks``, ``elicitation``, and the transports
(``streamable_http``, ``sse``, ``transport_security``); the Odoo adapter is
``services/mcp_server.py``. Requests are validated and results serialised
with the official ``mcp_types`` models and version helpers, per revision.
"""

import logging
from collections.abc import Callable
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

from . import elicitation
from .apps import Apps, shows_apps
from .errors import (
    HEADER_MISMATCH,
    INTERNAL_ERROR,
    INTERNAL_MESSAGE,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    McpError,
    ToolError,
    error_response,
    invalid_params,
    problems,
)
from .tasks import TASKS_EXTENSION, TaskRequests, TaskStore, runs_as_task
from .tools import serialize, tool_error_result, tool_result
from .versions import (
    HANDSHAKE_HTTP_VERSIONS,
    LIST_CACHE_SCOPE,
    LIST_TTL_MS,
    NAME_PARAMS,
    STREAMABLE_HTTP_VERSIONS,
    TASKS_SINCE,
    client_label,
    decode_name_header,
    is_modern,
)

_logger = logging.getLogger(__name__)

SUBSCRIPTION_ID_META_KEY = "io.modelcontextprotocol/subscriptionId"


class SessionStore(Protocol):
    """Where a transport keeps sessions (PostgreSQL in Odoo, a dict in tests)."""

    def initialized(
        self, session_id, version, client_info, asks_forms=False, shows_apps=False
    ):
        """Record a negotiated session; return its id (a new one if None).
        ``asks_forms``: the client may be asked with form elicitation;
        ``shows_apps``: it announced MCP Apps (``apps.py``)."""

    def protocol_version(self, session_id):
        """The session's negotiated version, or None if it is unknown or ended."""

    def asks_forms(self, session_id):
        """Whether the session's client declared form elicitation."""

    def shows_apps(self, session_id):
        """Whether the session's client announced MCP Apps."""

    def reserve_stream(self):
        """Take the slot of one more event stream now; False when none is free
        (streams are capped)."""

    def deliver(self, session_id, message):
        """Hand a client's answer to the stream that asked for it, if any."""

    def close(self, session_id):
        """End the session; return False if it did not exist."""


@dataclass
class Exchange:
    """One JSON-RPC message being served: its version, caller and session.

    ``routing`` holds the ``Mcp-Method`` / ``Mcp-Name`` headers a 2026-07-28
    request came with; ``client_capabilities`` are read from its ``_meta``.
    ``open_stream`` is set when the client may be asked on an event stream
    (it takes the stream's slot, if one is free); ``preamble`` holds the
    messages to send on an event stream before the response. ``shows_apps``:
    the client announced MCP Apps.
    """

    version: str
    context: Any
    supported_versions: tuple = HANDSHAKE_HTTP_VERSIONS
    sessions: SessionStore | None = None
    session_id: str | None = None
    new_session_id: str | None = None
    routing: dict = field(default_factory=dict)
    client_capabilities: dict = field(default_factory=dict)
    open_stream: Callable[[], bool] | None = None
    request_id: Any = None
    preamble: list = field(default_factory=list)
    shows_apps: bool = False


@dataclass
class McpServer:
    """Dispatches JSON-RPC messages to tools; knows nothing of HTTP or Odoo."""

    name: str
    version: str
    title: str
    instructions: str
    tools: list
    tasks: TaskStore | None = None
    apps: Apps | None = None
    # errors the host serves the whole request again after (Odoo: a
    # concurrent transaction's conflict): they propagate, never answered
    retried: Callable[[Exception], bool] = lambda _error: False
    _by_name: dict = field(init=False, repr=False)
    _static: dict = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self):
        self._by_name = {tool.name: tool for tool in self.tools}
        self._task_requests = TaskRequests(self.tasks)
        handshake = set(HANDSHAKE_PROTOCOL_VERSIONS)
        modern = set(MODERN_PROTOCOL_VERSIONS)
        # method: (handler, the revisions that have it)
        self._methods = {
            "initialize": (self._initialize, handshake),
            "ping": (self._ping, handshake),
            "server/discover": (self._discover, modern),
            "tools/list": (self._list_tools, handshake | modern),
            "tools/call": (self._call_tool, handshake | modern),
            "subscriptions/listen": (self._listen, modern),
            **self._task_requests.methods({TASKS_SINCE}, modern),
            **(self.apps.methods(handshake | modern) if self.apps else {}),
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
        or an :class:`~.elicitation.Elicitation` when the transport must ask
        the client first."""
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
        except elicitation.Elicitation as asking:
            asking.request_id = request.id
            return asking
        except Exception as error:
            if self.retried(error):
                raise
            _logger.exception("MCP %s failed", request.method)
            return error_response(request.id, INTERNAL_ERROR, INTERNAL_MESSAGE)

    def _check_modern_envelope(self, request, exchange):
        """2026-07-28: ``_meta`` carries version and capabilities, and agrees
        with the ``MCP-Protocol-Version`` header and the ``Mcp-Method`` /
        ``Mcp-Name`` ones when sent (without them the body routes)."""
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
        routed = exchange.routing.get("method")
        if routed not in (None, request.method):
            raise McpError(
                HEADER_MISMATCH,
                f"The Mcp-Method header must be the request's method "
                f"({request.method}).",
            )
        name_param = NAME_PARAMS.get(request.method)
        named = params.get(name_param) if name_param else None
        routed = exchange.routing.get("name")
        if None not in (named, routed) and decode_name_header(routed) != named:
            raise McpError(
                HEADER_MISMATCH,
                f"The Mcp-Name header must be params.{name_param} ({named}).",
            )
        capabilities = meta[types.CLIENT_CAPABILITIES_META_KEY]
        exchange.client_capabilities = (
            capabilities if isinstance(capabilities, dict) else {}
        )
        exchange.shows_apps = shows_apps(capabilities)

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
            raise invalid_params(method, error) from None

    def _cached(self, method, exchange, build):
        """Results that only depend on the method, the revision and whether
        the client shows MCP Apps are built and serialised once per process."""
        key = (method, exchange.version, bool(self.apps) and exchange.shows_apps)
        if key not in self._static:
            result = serialize(method, exchange.version, build())
            self._static[key] = self._offer_apps(result, exchange)
        return self._static[key]

    def _offer_apps(self, result, exchange):
        """A serialised result with the apps' views, for a client that shows
        them (``apps.py``)."""
        shown = self.apps and exchange.shows_apps
        return self.apps.offer(result) if shown else result

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
        exchange.shows_apps = shows_apps(params.get("capabilities"))
        if exchange.sessions is not None:
            client = request.params.client_info
            exchange.new_session_id = exchange.sessions.initialized(
                exchange.session_id,
                version,
                {
                    "name": client_label(client.name),
                    "version": client_label(client.version),
                },
                asks_forms=elicitation.session_asks_forms(
                    version, params.get("capabilities")
                ),
                shows_apps=exchange.shows_apps,
            )
        result = types.InitializeResult(
            protocol_version=version,
            capabilities=self._capabilities(version),
            server_info=self._server_info(),
            instructions=self.instructions,
        )
        exchange.version = version
        return self._offer_apps(serialize("initialize", version, result), exchange)

    def _ping(self, params, exchange):
        self._parse("ping", params or None, exchange)
        return {}

    def _discover(self, params, exchange):
        """2026-07-28's replacement for initialize: what this server speaks."""
        self._parse("server/discover", params, exchange)
        version = exchange.version
        return self._cached(
            "server/discover",
            exchange,
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
            exchange,
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
        answers = elicitation.answers_in_call(params, exchange) if tool.asks else None
        if runs_as_task(self.tasks, tool, request, exchange):
            return self._task_requests.start(tool, arguments, exchange)
        context = exchange.context
        try:
            return self.run_tool(tool, context, arguments, answers, exchange.version)
        except elicitation.InputRequired as needed:
            return elicitation.ask(self, tool, arguments, needed, exchange)

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


def _envelope(message):
    """The request in a message; None for notifications and client answers.

    Raises McpError (with ``request_id``) for anything else. An ``id`` of null
    makes an invalid request, never a notification.
    """
    if not isinstance(message, dict):
        raise _invalid(None, "A message must be an object.")
    if "method" not in message:
        if "id" in message and ("result" in message or "error" in message):
            return None  # a client's answer: routed by the transport, if ours
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
            request_id, "Invalid JSON-RPC request.", problems(error)
        ) from None


def _invalid(request_id, message, data=None):
    error = McpError(INVALID_REQUEST, message, data)
    error.request_id = request_id
    return error


def _safe_id(message):
    request_id = message.get("id")
    return request_id if isinstance(request_id, str | int) else None
