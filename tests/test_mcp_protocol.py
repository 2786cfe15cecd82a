"""The MCP protocol layer on its own: no Odoo, no server, toy tools.

The ``mcp`` folder is loaded without Odoo (``pure_modules``), exactly as a
reader would reuse it, and a subprocess checks that loading its protocol
modules pulls in no Odoo module at all.
"""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import mcp_types
import pytest
from helpers import pure_modules

PROTOCOL_MODULES = [
    "versions",
    "errors",
    "tools",
    "tasks",
    "elicitation",
    "server",
    "streamable_http",
    "sse",
    "transport_security",
    "framing",
    "apps",
]
(
    versions,
    errors,
    tools,
    tasks,
    elicitation,
    server_module,
    http,
    sse,
    security,
    framing,
    apps,
) = (pure_modules.load(f"mcp.{name}") for name in PROTOCOL_MODULES)
MODERN = "2026-07-28"


# ---------------------------------------------------------------- fixtures
class MemorySessions:
    def __init__(self):
        self.sessions = {}
        self.client_infos = {}
        self.forms = set()
        self.apps = set()
        self.streams_free = True
        self.delivered = []

    def initialized(
        self, session_id, version, client_info, asks_forms=False, shows_apps=False
    ):
        session_id = session_id or f"s{len(self.sessions) + 1}"
        self.sessions[session_id] = version
        self.client_infos[session_id] = client_info
        if asks_forms:
            self.forms.add(session_id)
        if shows_apps:
            self.apps.add(session_id)
        return session_id

    def protocol_version(self, session_id):
        return self.sessions.get(session_id)

    def asks_forms(self, session_id):
        return session_id in self.forms

    def shows_apps(self, session_id):
        return session_id in self.apps

    def reserve_stream(self):
        return self.streams_free

    def deliver(self, session_id, message):
        self.delivered.append((session_id, message))

    def close(self, session_id):
        return self.sessions.pop(session_id, None) is not None


class MemoryTasks:
    """Tasks that finish when the test says so."""

    def __init__(self):
        self.tasks = {}

    def _task(self, task_id):
        if task_id not in self.tasks:
            raise errors.McpError(errors.INVALID_PARAMS, "Task not found.")
        status, _output = self.tasks[task_id]
        return mcp_types.Task(
            task_id=task_id,
            status=status,
            created_at="2026-01-01T00:00:00Z",
            last_updated_at="2026-01-01T00:00:00Z",
            ttl=None,
            poll_interval=tasks.TASK_POLL_INTERVAL_MS,
        )

    def start(self, context, tool, arguments):
        if "name" not in arguments:
            raise errors.ToolError(
                "Invalid", [{"field": "name", "message": "required"}]
            )
        task_id = f"t{len(self.tasks) + 1}"
        self.tasks[task_id] = ("working", {"greeting": f"Hello {arguments['name']}"})
        return self._task(task_id)

    def get(self, context, task_id):
        return self._task(task_id)

    def wait(self, context, task_id):
        return self._task(task_id)

    def result(self, context, task_id):
        return self.tasks[task_id][1]

    def list(self, context, cursor):
        return [self._task(task_id) for task_id in self.tasks], None

    def cancel(self, context, task_id):
        status, output = self.tasks[task_id]
        if status != "working":
            raise errors.McpError(errors.INVALID_PARAMS, "Already finished.")
        self.tasks[task_id] = ("cancelled", output)
        return self._task(task_id)


def greet(context, arguments):
    if not arguments.get("name"):
        raise errors.ToolError(
            "The arguments are not valid.",
            [{"field": "name", "message": "This field is required."}],
        )
    return {"greeting": f"Hello {arguments['name']}", "caller": context}


GREET = tools.Tool(
    name="greet",
    title="Greet",
    description="Say hello.",
    input_schema={"type": "object", "properties": {"name": {"type": "string"}}},
    output_schema={
        "type": "object",
        "properties": {"greeting": {"type": "string"}, "caller": {"type": "string"}},
        "required": ["greeting"],
    },
    handler=greet,
    read_only=False,
    idempotent=False,
    task_support="optional",
)
ECHO = tools.Tool(
    name="echo",
    title="Echo",
    description="Echo.",
    input_schema={"type": "object"},
    output_schema={"type": "object"},
    handler=lambda context, arguments: arguments,
)


@pytest.fixture
def server():
    return server_module.McpServer(
        name="test",
        version="1.0",
        title="Test",
        instructions="Be nice.",
        tools=[GREET, ECHO],
        tasks=MemoryTasks(),
    )


@pytest.fixture
def sessions():
    return MemorySessions()


def post(server, sessions, message, **headers):
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    payload, reply = http.decode(body)
    return reply or http.serve_post(server, headers, payload, "ana", sessions)


def request(method, params=None, request_id=1):
    message = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def initialize(server, sessions, version="2025-11-25", capabilities=None):
    reply = post(
        server,
        sessions,
        request(
            "initialize",
            {
                "protocolVersion": version,
                "capabilities": capabilities or {},
                "clientInfo": {"name": "pytest", "version": "1"},
            },
        ),
    )
    assert reply.status == 200, reply.body
    return reply


def call(server, sessions, version, method, params=None, **headers):
    session = sessions.initialized(None, version, {})
    return post(
        server,
        sessions,
        request(method, params),
        **{"MCP-Protocol-Version": version, "Mcp-Session-Id": session, **headers},
    )


# ---------------------------------------------------------------- isolation
def test_the_protocol_modules_import_no_odoo():
    script = (
        f"import sys; sys.path.insert(0, {str(Path(pure_modules.__file__).parent)!r})\n"
        "import pure_modules\n"
        f"for name in {PROTOCOL_MODULES!r}: pure_modules.load('mcp.' + name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'odoo'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# ---------------------------------------------------------------- lifecycle
def test_initialize_agrees_on_the_client_version_and_opens_a_session(server, sessions):
    reply = initialize(server, sessions, "2025-06-18")
    result = reply.body["result"]
    assert result["protocolVersion"] == "2025-06-18"
    assert result["serverInfo"] == {"name": "test", "title": "Test", "version": "1.0"}
    assert result["capabilities"]["tools"] == {"listChanged": False}
    assert "tasks" not in result["capabilities"]  # a 2025-11-25 feature
    assert result["instructions"] == "Be nice."
    session = reply.headers["Mcp-Session-Id"]
    assert sessions.protocol_version(session) == "2025-06-18"


def test_initialize_offers_the_latest_version_for_an_unknown_one(server, sessions):
    result = initialize(server, sessions, "2099-01-01").body["result"]
    assert result["protocolVersion"] == "2025-11-25"
    assert result["capabilities"]["tasks"]["requests"] == {"tools": {"call": {}}}


def test_initialize_without_client_info_is_invalid_params(server, sessions):
    reply = post(
        server,
        sessions,
        request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {}}),
    )
    assert reply.body["error"]["code"] == errors.INVALID_PARAMS
    assert sessions.sessions == {}


def test_notifications_and_client_responses_get_202_without_body(server, sessions):
    for message in (
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 7, "result": {}},
    ):
        reply = post(server, sessions, message)
        assert (reply.status, reply.body, reply.content()) == (202, None, b"")


def test_ping(server, sessions):
    reply = call(server, sessions, "2025-11-25", "ping")
    assert reply.body == {"jsonrpc": "2.0", "id": 1, "result": {}}


# ---------------------------------------------------------------- versions
def test_a_missing_version_header_after_initialize_means_2025_03_26(server, sessions):
    reply = post(server, sessions, request("tools/list"))
    tools = reply.body["result"]["tools"]
    assert "outputSchema" not in tools[0]  # structured output came in 2025-06-18
    batch = post(server, sessions, [request("ping", None, 1), request("ping", None, 2)])
    assert [r["id"] for r in batch.body] == [1, 2]  # batches are 2025-03-26 only


def test_the_session_version_is_used_when_the_header_is_missing(server, sessions):
    session = sessions.initialized(None, "2025-11-25", {})
    reply = post(server, sessions, request("tools/list"), **{"Mcp-Session-Id": session})
    assert reply.body["result"]["tools"][0]["execution"] == {"taskSupport": "optional"}


def test_an_unsupported_version_header_gets_400_naming_the_supported_ones(
    server, sessions
):
    reply = post(
        server,
        sessions,
        request("tools/list"),
        **{"MCP-Protocol-Version": "1999-01-01"},
    )
    assert reply.status == 400
    error = reply.body["error"]
    assert error["code"] == errors.UNSUPPORTED_PROTOCOL_VERSION
    assert error["data"] == {
        "supported": ["2025-03-26", "2025-06-18", "2025-11-25", MODERN],
        "requested": "1999-01-01",
    }


def test_server_discover_without_the_modern_header_is_an_unknown_method(
    server, sessions
):
    reply = call(server, sessions, "2025-11-25", "server/discover")
    assert reply.body["error"]["code"] == errors.METHOD_NOT_FOUND


def test_batches_are_refused_after_2025_03_26(server, sessions):
    reply = post(
        server,
        sessions,
        [request("ping")],
        **{"MCP-Protocol-Version": "2025-06-18"},
    )
    assert reply.status == 400
    assert reply.body["error"]["code"] == errors.INVALID_REQUEST
    assert "batches" in reply.body["error"]["message"]


def test_a_batch_mixes_answers_errors_and_notifications(server, sessions):
    reply = post(
        server,
        sessions,
        [
            request("ping", None, 1),
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            request("nope", None, 2),
            request(
                "initialize",
                {"protocolVersion": "2025-03-26", "capabilities": {}},
                3,
            ),
        ],
    )
    assert reply.status == 200
    assert [(r["id"], "error" in r) for r in reply.body] == [
        (1, False),
        (2, True),
        (3, True),
    ]
    assert reply.body[1]["error"]["code"] == errors.METHOD_NOT_FOUND
    only_notifications = post(
        server, sessions, [{"jsonrpc": "2.0", "method": "notifications/initialized"}]
    )
    assert only_notifications.status == 202
    assert post(server, sessions, []).status == 400


# ---------------------------------------------------------------- malformed
@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", errors.PARSE_ERROR),
        (b"", errors.PARSE_ERROR),
        (b'"a string"', errors.INVALID_REQUEST),
        (b'{"jsonrpc": "2.0", "id": null, "method": "ping"}', errors.INVALID_REQUEST),
        (b'{"jsonrpc": "2.0", "id": 1.5, "method": "ping"}', errors.INVALID_REQUEST),
        (b'{"jsonrpc": "2.0", "id": true, "method": "ping"}', errors.INVALID_REQUEST),
        (b'{"jsonrpc": "1.0", "method": "x"}', errors.INVALID_REQUEST),
    ],
)
def test_malformed_messages_get_400_and_a_json_rpc_error(server, sessions, body, code):
    reply = post(server, sessions, body)
    assert reply.status == 400
    assert reply.body["jsonrpc"] == "2.0"
    assert reply.body["id"] is None
    assert reply.body["error"]["code"] == code


@pytest.mark.parametrize(
    "message",
    [{"jsonrpc": "1.0", "id": 4, "method": "ping"}, {"jsonrpc": "2.0", "id": 4}],
)
def test_a_request_with_a_bad_envelope_keeps_its_id(server, sessions, message):
    reply = post(server, sessions, message)
    assert (reply.status, reply.body["id"]) == (200, 4)
    assert reply.body["error"]["code"] == errors.INVALID_REQUEST


def test_unknown_method_is_32601(server, sessions):
    reply = call(server, sessions, "2025-11-25", "resources/list")
    assert reply.status == 200
    assert reply.body["error"]["code"] == errors.METHOD_NOT_FOUND


# ---------------------------------------------------------------- tools
def test_tools_list_follows_the_negotiated_version(server, sessions):
    old = call(server, sessions, "2025-03-26", "tools/list").body["result"]["tools"]
    new = call(server, sessions, "2025-11-25", "tools/list").body["result"]["tools"]
    assert [t["name"] for t in new] == ["greet", "echo"]
    assert "outputSchema" not in old[0] and "execution" not in old[0]
    greet_tool = new[0]
    assert greet_tool["outputSchema"]["required"] == ["greeting"]
    assert greet_tool["execution"] == {"taskSupport": "optional"}
    assert greet_tool["annotations"] == {
        "title": "Greet",
        "readOnlyHint": False,
        "destructiveHint": False,
        "idempotentHint": False,
        "openWorldHint": False,
    }
    assert "execution" not in new[1]
    assert new[1]["annotations"]["readOnlyHint"] is True


def test_tool_call_returns_structured_content_and_the_same_json_as_text(
    server, sessions
):
    reply = call(
        server,
        sessions,
        "2025-06-18",
        "tools/call",
        {"name": "greet", "arguments": {"name": "Ana"}},
    )
    result = reply.body["result"]
    assert result["structuredContent"] == {"greeting": "Hello Ana", "caller": "ana"}
    assert json.loads(result["content"][0]["text"]) == result["structuredContent"]
    assert result["isError"] is False


def test_tool_call_before_2025_06_18_has_text_only(server, sessions):
    result = call(
        server,
        sessions,
        "2025-03-26",
        "tools/call",
        {"name": "greet", "arguments": {"name": "Ana"}},
    ).body["result"]
    assert "structuredContent" not in result
    assert "Hello Ana" in result["content"][0]["text"]


def test_tool_errors_are_results_the_model_can_read(server, sessions):
    result = call(
        server,
        sessions,
        "2025-11-25",
        "tools/call",
        {"name": "greet", "arguments": {}},
    ).body["result"]
    assert result["isError"] is True
    assert "structuredContent" not in result
    assert result["content"][0]["text"] == (
        "The arguments are not valid.\n- name: This field is required."
    )


def test_unknown_tool_is_a_json_rpc_error_32602(server, sessions):
    reply = call(
        server, sessions, "2025-11-25", "tools/call", {"name": "nope", "arguments": {}}
    )
    assert reply.body["error"]["code"] == errors.INVALID_PARAMS
    assert "nope" in reply.body["error"]["message"]


def test_tools_call_without_a_name_is_invalid_params(server, sessions):
    reply = call(server, sessions, "2025-11-25", "tools/call", {"arguments": {}})
    assert reply.body["error"]["code"] == errors.INVALID_PARAMS
    assert reply.body["error"]["data"][0]["field"] == "params.name"


# ---------------------------------------------------------------- sessions
def test_an_unknown_session_gets_404_and_delete_ends_one(server, sessions):
    session = initialize(server, sessions).headers["Mcp-Session-Id"]
    headers = {"Mcp-Session-Id": session}
    assert http.serve_delete(headers, sessions).status == 204
    reply = post(server, sessions, request("ping"), **headers)
    assert reply.status == 404
    assert http.serve_delete(headers, sessions).status == 404
    assert http.serve_delete({}, sessions).status == 400


def test_get_is_405_with_allow(server):
    reply = http.serve_get()
    assert reply.status == 405
    assert reply.headers["Allow"] == "POST, DELETE"


def test_a_client_accepting_only_event_streams_is_answered_as_one(server, sessions):
    reply = post(server, sessions, request("ping"), Accept="text/event-stream")
    assert reply.headers["Content-Type"] == "text/event-stream"
    plain = post(
        server, sessions, request("ping"), Accept="application/json, text/event-stream"
    )
    assert "Content-Type" not in plain.headers


# ---------------------------------------------------------------- origin
@pytest.mark.parametrize(
    ("origin", "allowed", "expected"),
    [
        (None, set(), True),
        ("", set(), True),
        ("https://evil.example", set(), False),
        ("https://erp.example.com", {"https://erp.example.com"}, True),
        ("HTTPS://ERP.example.com:443/", {"https://erp.example.com"}, True),
        ("http://erp.example.com", {"https://erp.example.com"}, False),
        ("http://localhost:6274", {"http://localhost:6274"}, True),
        ("http://localhost:6275", {"http://localhost:6274"}, False),
        ("null", {"https://erp.example.com"}, False),
        ("https://anything.example", {"*"}, True),
    ],
)
def test_origin_allow_list(origin, allowed, expected):
    assert security.origin_allowed(origin, lambda: allowed) is expected


# ---------------------------------------------------------------- tasks
def test_a_tool_runs_as_a_task_when_asked_on_2025_11_25(server, sessions):
    created = call(
        server,
        sessions,
        "2025-11-25",
        "tools/call",
        {"name": "greet", "arguments": {"name": "Ana"}, "task": {"ttl": 60000}},
    ).body["result"]
    task = created["task"]
    assert task["status"] == "working"
    assert task["ttl"] is None
    assert task["pollInterval"] == 1000
    task_id = task["taskId"]
    got = call(server, sessions, "2025-11-25", "tasks/get", {"taskId": task_id})
    assert got.body["result"]["status"] == "working"
    listed = call(server, sessions, "2025-11-25", "tasks/list").body["result"]
    assert [t["taskId"] for t in listed["tasks"]] == [task_id]
    server.tasks.tasks[task_id] = ("completed", {"greeting": "Hello Ana"})
    result = call(
        server, sessions, "2025-11-25", "tasks/result", {"taskId": task_id}
    ).body["result"]
    assert result["structuredContent"] == {"greeting": "Hello Ana"}
    assert result["_meta"] == {
        "io.modelcontextprotocol/related-task": {"taskId": task_id}
    }
    cancel = call(server, sessions, "2025-11-25", "tasks/cancel", {"taskId": task_id})
    assert cancel.body["error"]["code"] == errors.INVALID_PARAMS


def test_a_task_still_working_after_the_wait_is_an_error_saying_to_poll(
    server, sessions
):
    task_id = server.tasks.start(None, GREET, {"name": "Ana"}).task_id
    reply = call(server, sessions, "2025-11-25", "tasks/result", {"taskId": task_id})
    assert reply.body["error"]["data"] == {"taskId": task_id, "status": "working"}


def test_task_cancel_and_unknown_task(server, sessions):
    task_id = server.tasks.start(None, GREET, {"name": "Ana"}).task_id
    cancelled = call(
        server, sessions, "2025-11-25", "tasks/cancel", {"taskId": task_id}
    )
    assert cancelled.body["result"]["status"] == "cancelled"
    unknown = call(server, sessions, "2025-11-25", "tasks/get", {"taskId": "zzz"})
    assert unknown.body["error"]["code"] == errors.INVALID_PARAMS
    missing = call(server, sessions, "2025-11-25", "tasks/get", {})
    assert missing.body["error"]["code"] == errors.INVALID_PARAMS


def test_tasks_need_2025_11_25_and_a_tool_that_supports_them(server, sessions):
    old = call(server, sessions, "2025-06-18", "tasks/list")
    assert old.body["error"]["code"] == errors.METHOD_NOT_FOUND
    echo_task = call(
        server,
        sessions,
        "2025-11-25",
        "tools/call",
        {"name": "echo", "arguments": {}, "task": {}},
    )
    assert echo_task.body["error"]["code"] == errors.METHOD_NOT_FOUND
    bad_arguments = call(
        server,
        sessions,
        "2025-11-25",
        "tools/call",
        {"name": "greet", "arguments": {}, "task": {}},
    )
    assert bad_arguments.body["error"]["code"] == errors.INVALID_PARAMS
    assert server.tasks.tasks == {}


# ---------------------------------------------------------------- 2026-07-28
def modern(server, method, params=None, capabilities=None, **headers):
    """A stateless 2026-07-28 request with ``_meta`` and routing headers."""
    params = dict(params or {})
    params["_meta"] = {
        mcp_types.PROTOCOL_VERSION_META_KEY: MODERN,
        mcp_types.CLIENT_CAPABILITIES_META_KEY: capabilities or {},
        mcp_types.CLIENT_INFO_META_KEY: {"name": "pytest", "version": "1"},
    }
    name = params.get("name") or params.get("taskId")
    routing = {"MCP-Protocol-Version": MODERN, "Mcp-Method": method}
    if name:
        routing["Mcp-Name"] = name
    return post(server, None, request(method, params), **{**routing, **headers})


def test_server_discover_answers_what_initialize_would_without_a_session(server):
    reply = modern(server, "server/discover")
    assert reply.status == 200
    result = reply.body["result"]
    assert result["resultType"] == "complete"
    assert result["supportedVersions"] == [
        "2025-03-26",
        "2025-06-18",
        "2025-11-25",
        MODERN,
    ]
    assert result["capabilities"] == {
        "tools": {"listChanged": False},
        "extensions": {"io.modelcontextprotocol/tasks": {}},
    }
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "test"
    assert result["instructions"] == "Be nice."
    assert (result["ttlMs"], result["cacheScope"]) == (3_600_000, "private")
    assert "Mcp-Session-Id" not in reply.headers


def test_modern_tools_list_and_call_carry_result_type_and_cache_hints(server):
    listed = modern(server, "tools/list").body["result"]
    assert listed["resultType"] == "complete"
    assert (listed["ttlMs"], listed["cacheScope"]) == (3_600_000, "private")
    assert "execution" not in listed["tools"][0]  # tasks are an extension now
    result = modern(
        server, "tools/call", {"name": "greet", "arguments": {"name": "Ana"}}
    ).body["result"]
    assert result["resultType"] == "complete"
    assert result["structuredContent"] == {"greeting": "Hello Ana", "caller": "ana"}


@pytest.mark.parametrize(
    ("message", "writes"),
    [
        (request("tools/call", {"name": "greet", "arguments": {}}), True),
        (request("tools/call", {"name": "echo", "arguments": {}}), False),
        (request("tools/call", {"name": "nope"}), False),
        (request("tools/call", "greet"), False),
        (request("tools/list"), False),
        ([request("tools/call", {"name": "greet"})], False),
        (None, False),
    ],
)
def test_a_transport_knows_which_calls_may_have_written(server, message, writes):
    assert server.calls_writing_tool(message) is writes


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"Mcp-Method": "tools/list"}, errors.HEADER_MISMATCH),
        ({"Mcp-Name": "echo"}, errors.HEADER_MISMATCH),
        ({"Mcp-Name": "=?base64?ZWNobw==?="}, errors.HEADER_MISMATCH),
        ({"Mcp-Name": "=?base64?Z3JlZXQ=?="}, None),  # "greet", encoded
    ],
)
def test_modern_routing_headers_must_match_the_body(server, headers, code):
    reply = modern(
        server, "tools/call", {"name": "greet", "arguments": {"name": "A"}}, **headers
    )
    if code is None:
        assert reply.status == 200
    else:
        assert reply.status == 400
        assert reply.body["error"]["code"] == code
        assert reply.body["id"] == 1


def test_modern_requests_need_their_meta_envelope(server, sessions):
    reply = post(
        server,
        sessions,
        request("tools/list", {}),
        **{"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/list"},
    )
    assert (reply.status, reply.body["error"]["code"]) == (400, errors.INVALID_PARAMS)
    assert "clientCapabilities" in reply.body["error"]["message"]
    mismatch = post(
        server,
        sessions,
        request(
            "tools/list",
            {
                "_meta": {
                    mcp_types.PROTOCOL_VERSION_META_KEY: "2025-11-25",
                    mcp_types.CLIENT_CAPABILITIES_META_KEY: {},
                }
            },
        ),
        **{"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/list"},
    )
    assert mismatch.body["error"]["code"] == errors.HEADER_MISMATCH


def test_claude_traffic_under_an_older_header_is_served_as_the_body_says(server):
    """Claude's connectors (claude-code issue 93290) send 2026-07-28 requests
    under ``MCP-Protocol-Version: 2025-11-25``: the body's ``_meta`` wins."""
    old = {"MCP-Protocol-Version": "2025-11-25"}
    discovered = modern(server, "server/discover", **old)
    assert discovered.status == 200, discovered.body
    assert MODERN in discovered.body["result"]["supportedVersions"]
    listed = modern(server, "tools/list", **old).body["result"]
    assert listed["resultType"] == "complete"
    assert [tool["name"] for tool in listed["tools"]] == ["greet", "echo"]
    called = modern(
        server, "tools/call", {"name": "greet", "arguments": {"name": "Ana"}}, **old
    ).body["result"]
    assert called["structuredContent"]["greeting"] == "Hello Ana"
    assert "Mcp-Session-Id" not in discovered.headers


@pytest.mark.parametrize("header_version", [MODERN, "2025-11-25", None])
def test_modern_requests_without_routing_headers_are_routed_by_their_body(
    server, header_version
):
    """Claude's connectors may send neither ``Mcp-Method`` nor ``Mcp-Name``
    (notes/clients.md): the body says what is asked; a header that is sent
    and contradicts it is still refused."""
    meta = {
        mcp_types.PROTOCOL_VERSION_META_KEY: MODERN,
        mcp_types.CLIENT_CAPABILITIES_META_KEY: {},
    }
    headers = {"MCP-Protocol-Version": header_version} if header_version else {}

    def bare(method, params=None, **extra):
        message = request(method, {**(params or {}), "_meta": meta})
        return post(server, None, message, **headers, **extra)

    discovered = bare("server/discover")
    assert discovered.status == 200, discovered.body
    assert discovered.body["result"]["resultType"] == "complete"
    listed = bare("tools/list").body["result"]
    assert [tool["name"] for tool in listed["tools"]] == ["greet", "echo"]
    greet = {"name": "greet", "arguments": {"name": "Ana"}}
    called = bare("tools/call", greet)
    assert called.status == 200, called.body
    assert called.body["result"]["structuredContent"]["greeting"] == "Hello Ana"
    for contradicting in ({"Mcp-Method": "tools/list"}, {"Mcp-Name": "echo"}):
        refused = bare("tools/call", greet, **contradicting)
        assert refused.status == 400
        assert refused.body["error"]["code"] == errors.HEADER_MISMATCH


def test_modern_drops_the_handshake_its_batches_and_its_ping(server):
    assert modern(server, "initialize").status == 404
    assert modern(server, "ping").status == 404
    batch = post(
        server, None, [request("tools/list")], **{"MCP-Protocol-Version": MODERN}
    )
    assert (batch.status, batch.body["error"]["code"]) == (
        400,
        errors.INVALID_REQUEST,
    )
    notification = post(
        server,
        None,
        {"jsonrpc": "2.0", "method": "notifications/cancelled"},
        **{"MCP-Protocol-Version": MODERN},
    )
    assert notification.status == 202


def test_the_tasks_extension_runs_a_tool_as_a_task_for_clients_that_declare_it(
    server,
):
    plain = modern(
        server, "tools/call", {"name": "greet", "arguments": {"name": "Ana"}}
    ).body["result"]
    assert plain["resultType"] == "complete"  # no extension: no task
    assert server.tasks.tasks == {}
    extension = {"extensions": {"io.modelcontextprotocol/tasks": {}}}
    created = modern(
        server,
        "tools/call",
        {"name": "greet", "arguments": {"name": "Ana"}},
        capabilities=extension,
    ).body["result"]
    assert created["resultType"] == "task"
    assert created["status"] == "working"
    assert (created["ttlMs"], created["pollIntervalMs"]) == (None, 1000)
    task_id = created["taskId"]
    working = modern(server, "tasks/get", {"taskId": task_id}).body["result"]
    assert (working["resultType"], working["status"]) == ("complete", "working")
    assert "result" not in working
    server.tasks.tasks[task_id] = ("completed", {"greeting": "Hello Ana"})
    done = modern(server, "tasks/get", {"taskId": task_id}).body["result"]
    assert done["status"] == "completed"
    assert done["result"]["structuredContent"] == {"greeting": "Hello Ana"}
    ack = modern(server, "tasks/cancel", {"taskId": task_id}).body["result"]
    assert ack == {"resultType": "complete"}  # cooperative: already completed
    assert server.tasks.tasks[task_id][0] == "completed"
    update = modern(server, "tasks/update", {"taskId": task_id, "inputResponses": {}})
    assert update.body["result"] == {"resultType": "complete"}
    for method in ("tasks/result", "tasks/list"):  # 2025-11-25 only
        assert modern(server, method, {"taskId": task_id}).status == 404
    unknown = modern(server, "tasks/get", {"taskId": "zzz"})
    assert (unknown.status, unknown.body["error"]["code"]) == (
        400,
        errors.INVALID_PARAMS,
    )


def test_modern_cancel_of_a_working_task_cancels_it(server):
    task_id = server.tasks.start(None, GREET, {"name": "Ana"}).task_id
    assert modern(server, "tasks/cancel", {"taskId": task_id}).status == 200
    assert server.tasks.tasks[task_id][0] == "cancelled"


def order(context, arguments, answers):
    """Asks which colour, when the client can be asked."""
    if answers is None:
        return {"colour": "the default one"}
    answer = answers.get("colour")
    if answer is None:
        raise elicitation.InputRequired(
            {
                "colour": {
                    "message": "Which colour?",
                    "requestedSchema": {
                        "type": "object",
                        "properties": {"colour": {"type": "string"}},
                    },
                }
            }
        )
    return {"colour": answer["content"]["colour"]}


ORDER = tools.Tool(
    name="order",
    title="Order",
    description="Order in a colour.",
    input_schema={"type": "object"},
    output_schema={"type": "object"},
    handler=order,
    asks=True,
)


def test_a_tool_asks_a_client_that_can_answer_and_goes_on_with_the_answer():
    server = server_module.McpServer(
        name="t", version="1", title="T", instructions="", tools=[ORDER]
    )
    can_answer = {"elicitation": {"form": {}}}
    asked = modern(
        server, "tools/call", {"name": "order"}, capabilities=can_answer
    ).body["result"]
    assert asked["resultType"] == "input_required"
    question = asked["inputRequests"]["colour"]
    assert question["method"] == "elicitation/create"
    assert question["params"]["mode"] == "form"
    assert question["params"]["message"] == "Which colour?"
    answered = modern(
        server,
        "tools/call",
        {
            "name": "order",
            "inputResponses": {
                "colour": {"action": "accept", "content": {"colour": "green"}}
            },
        },
        capabilities=can_answer,
    ).body["result"]
    assert answered["structuredContent"] == {"colour": "green"}
    for capabilities in ({}, {"elicitation": {"url": {}}}):  # cannot answer a form
        plain = modern(server, "tools/call", {"name": "order"}, capabilities)
        assert plain.body["result"]["structuredContent"] == {
            "colour": "the default one"
        }


# ---------------------------------------------------------------- 2025-11-25 asks
def open_session(server, sessions, capabilities, version="2025-11-25"):
    reply = initialize(server, sessions, version, capabilities)
    return reply.headers["Mcp-Session-Id"]


@pytest.mark.parametrize(
    ("capabilities", "version", "asks_forms"),
    [
        ({"elicitation": {}}, "2025-11-25", True),  # {} means forms
        ({"elicitation": {"form": {}, "url": {}}}, "2025-11-25", True),
        ({"elicitation": {"url": {}}}, "2025-11-25", False),
        ({}, "2025-11-25", False),
        ({"elicitation": {}}, "2025-06-18", False),  # no form mode yet
    ],
)
def test_initialize_records_whether_the_client_takes_forms(
    server, sessions, capabilities, version, asks_forms
):
    session = open_session(server, sessions, capabilities, version)
    assert sessions.asks_forms(session) is asks_forms


def ask_order(sessions, capabilities=None, **headers):
    server = server_module.McpServer(
        name="t", version="1", title="T", instructions="", tools=[ORDER]
    )
    if capabilities is None:
        capabilities = {"elicitation": {}}
    session = open_session(server, sessions, capabilities)
    headers = {
        "MCP-Protocol-Version": "2025-11-25",
        "Mcp-Session-Id": session,
        "Accept": "application/json, text/event-stream",
        **headers,
    }
    reply = post(
        server, sessions, request("tools/call", {"name": "order"}, 9), **headers
    )
    return server, session, reply


def test_a_2025_11_25_tool_call_asks_its_client_on_the_stream(sessions):
    """The reply carries what the transport asks on the stream it holds."""
    _server, _session, reply = ask_order(sessions)
    assert (reply.status, reply.body) == (200, None)
    assert reply.headers["Content-Type"] == "text/event-stream"
    asking = reply.elicitation
    [question] = asking.requests()
    assert question["method"] == "elicitation/create"
    assert question["id"].startswith(elicitation.ELICITATION_REQUEST_PREFIX)
    assert question["params"] == {
        "mode": "form",
        "message": "Which colour?",
        "requestedSchema": {
            "type": "object",
            "properties": {"colour": {"type": "string"}},
        },
    }
    asking.answer(
        question["id"],
        {
            "jsonrpc": "2.0",
            "id": question["id"],
            "result": {"action": "accept", "content": {"colour": "green"}},
        },
    )
    response = asking.response("ana")
    assert response["id"] == 9
    assert response["result"]["structuredContent"] == {"colour": "green"}


@pytest.mark.parametrize(
    "answer",
    [
        None,  # none came in time
        {"jsonrpc": "2.0", "id": "x", "error": {"code": -1, "message": "no"}},
        {"jsonrpc": "2.0", "id": "x", "result": {"action": "maybe"}},
    ],
)
def test_no_valid_answer_counts_as_cancelled(sessions, answer):
    cancelled = {}

    def record(context, arguments, answers):
        cancelled.update(answers or {})
        return order(context, arguments, answers) if answers is None else {}

    server = server_module.McpServer(
        name="t",
        version="1",
        title="T",
        instructions="",
        tools=[dataclasses.replace(ORDER, handler=record)],
    )
    question = {"message": "?", "requestedSchema": {"type": "object"}}
    asking = elicitation.Elicitation(
        server, server.tools[0], {}, {"colour": question}, "2025-11-25"
    )
    [question] = asking.requests()
    if answer is not None:
        asking.answer(question["id"], answer)
    asking.request_id = 3
    assert asking.response("ana")["result"]["structuredContent"] == {}
    assert cancelled == {"colour": {"action": "cancel"}}


@pytest.mark.parametrize(
    ("capabilities", "free", "accept"),
    [
        ({"elicitation": {}}, False, "application/json, text/event-stream"),
        ({}, True, "application/json, text/event-stream"),
        ({"elicitation": {}}, True, "application/json"),  # takes no stream
    ],
)
def test_a_client_that_cannot_be_asked_now_gets_the_tool_without_questions(
    sessions, capabilities, free, accept
):
    sessions.streams_free = free
    _server, _session, reply = ask_order(sessions, capabilities, Accept=accept)
    assert reply.elicitation is None
    assert reply.body["result"]["structuredContent"] == {"colour": "the default one"}


def test_the_client_answer_is_delivered_to_the_waiting_stream(server, sessions):
    session = open_session(server, sessions, {"elicitation": {}})
    headers = {"MCP-Protocol-Version": "2025-11-25", "Mcp-Session-Id": session}
    answer = {"jsonrpc": "2.0", "id": "elicit-abc-colour", "result": {}}
    stray = {"jsonrpc": "2.0", "id": 7, "result": {}}
    for message in (answer, stray):
        reply = post(server, sessions, message, **headers)
        assert (reply.status, reply.body) == (202, None)
    assert sessions.delivered == [(session, answer)]


# ---------------------------------------------------------------- subscriptions
def test_subscriptions_listen_is_acknowledged_and_closed_gracefully(server):
    """Nothing here ever changes: the stream honours no notification type."""
    reply = modern(
        server, "subscriptions/listen", {"notifications": {"toolsListChanged": True}}
    )
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/event-stream"
    events = [
        json.loads(line[len(b"data: ") :])
        for line in reply.content().splitlines()
        if line.startswith(b"data: ")
    ]
    subscription = {"io.modelcontextprotocol/subscriptionId": 1}
    assert events == [
        {
            "jsonrpc": "2.0",
            "method": "notifications/subscriptions/acknowledged",
            "params": {"_meta": subscription, "notifications": {}},
        },
        {
            "jsonrpc": "2.0",
            "id": 1,
            "result": {"resultType": "complete", "_meta": subscription},
        },
    ]
    refused = modern(server, "subscriptions/listen", {})  # no filter
    assert (refused.status, refused.body["error"]["code"]) == (
        400,
        errors.INVALID_PARAMS,
    )


# ---------------------------------------------------------------- abuse
def test_a_batch_is_capped(server, sessions):
    batch = [request("ping", None, i) for i in range(http.MAX_BATCH_MESSAGES + 1)]
    reply = post(server, sessions, batch)
    assert reply.status == 400
    assert f"at most {http.MAX_BATCH_MESSAGES}" in reply.body["error"]["message"]
    assert http.message_count(batch) == http.MAX_BATCH_MESSAGES + 1
    assert http.message_count(request("ping")) == 1


def test_client_info_is_kept_short_whatever_the_client_sends(server, sessions):
    reply = post(
        server,
        sessions,
        request(
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "x" * 100_000, "version": "1" * 100_000},
            },
        ),
    )
    assert reply.status == 200
    stored = sessions.client_infos[reply.headers["Mcp-Session-Id"]]
    assert stored == {
        "name": "x" * versions.CLIENT_INFO_MAX_CHARS,
        "version": "1" * versions.CLIENT_INFO_MAX_CHARS,
    }


def test_a_modern_request_names_its_client_in_meta():
    """2026-07-28 says who calls in every request's _meta, as a label."""
    meta = {"io.modelcontextprotocol/clientInfo": {"name": "claude-code\n" + "x" * 500}}
    name = versions.reported_client_name({"params": {"_meta": meta}})
    assert name == "claude-code\ufffd" + "x" * (versions.CLIENT_INFO_MAX_CHARS - 12)
    for unnamed in (None, [], {"params": {}}, {"params": {"_meta": {}}}):
        assert versions.reported_client_name(unnamed) is None
    meta["io.modelcontextprotocol/clientInfo"] = {"name": "  "}
    assert versions.reported_client_name({"params": {"_meta": meta}}) is None


# ---------------------------------------------------------------- legacy SSE
def test_legacy_sse_messages_are_accepted_and_answered_on_the_stream(server, sessions):
    session = sessions.initialized(None, "2024-11-05", {})
    reply, pushed = sse.serve_sse_message(
        server,
        (
            request(
                "initialize",
                {
                    "protocolVersion": "2024-11-05",
                    "capabilities": {},
                    "clientInfo": {"name": "elevenlabs", "version": "1"},
                },
            )
        ),
        "ana",
        sessions,
        session,
    )
    assert (reply.status, reply.body) == (202, None)
    assert pushed[0]["result"]["protocolVersion"] == "2024-11-05"
    assert sessions.protocol_version(session) == "2024-11-05"
    reply, pushed = sse.serve_sse_message(
        server, [request("ping")] * 2, "ana", sessions, session
    )
    assert (reply.status, pushed) == (400, [])  # batches came with 2025-03-26
    reply, pushed = sse.serve_sse_message(
        server, request("ping"), "ana", sessions, "gone"
    )
    assert (reply.status, pushed) == (404, [])


def test_sse_event_framing():
    assert framing.sse_event('{"a":1}') == b'event: message\ndata: {"a":1}\n\n'
    assert framing.sse_event("/mcp/messages?session_id=x", "endpoint").startswith(
        b"event: endpoint\n"
    )


# ---------------------------------------------------------------- MCP Apps
CARD_URI = "ui://test/card"
SHOWS_APPS = {"extensions": {apps.UI_EXTENSION: {"mimeTypes": [apps.MIME_TYPE]}}}


@pytest.fixture
def app_server():
    card = apps.App(
        uri=CARD_URI,
        name="card",
        title="Card",
        description="A greeting as a card.",
        html=lambda: "<!DOCTYPE html><p>card</p>",
        tools=("greet",),
    )
    return server_module.McpServer(
        name="test",
        version="1.0",
        title="Test",
        instructions="",
        tools=[GREET, ECHO],
        apps=apps.Apps([card]),
    )


def session_of(reply):
    return {
        "MCP-Protocol-Version": reply.body["result"]["protocolVersion"],
        "Mcp-Session-Id": reply.headers["Mcp-Session-Id"],
    }


def test_a_client_that_announces_apps_is_offered_the_card(app_server, sessions):
    opened = initialize(app_server, sessions, capabilities=SHOWS_APPS)
    capabilities = opened.body["result"]["capabilities"]
    assert capabilities["extensions"] == {
        apps.UI_EXTENSION: {"mimeTypes": ["text/html;profile=mcp-app"]}
    }
    assert "resources" in capabilities
    session = session_of(opened)
    tools = post(app_server, sessions, request("tools/list"), **session).body
    by_name = {tool["name"]: tool for tool in tools["result"]["tools"]}
    assert by_name["greet"]["_meta"]["ui"] == {"resourceUri": CARD_URI}
    assert "_meta" not in by_name["echo"]
    listed = post(app_server, sessions, request("resources/list"), **session).body
    assert listed["result"]["resources"] == [
        {
            "uri": CARD_URI,
            "name": "card",
            "title": "Card",
            "description": "A greeting as a card.",
            "mimeType": "text/html;profile=mcp-app",
        }
    ]
    read = post(
        app_server, sessions, request("resources/read", {"uri": CARD_URI}), **session
    ).body["result"]["contents"][0]
    assert read["mimeType"] == "text/html;profile=mcp-app"
    assert read["text"].startswith("<!DOCTYPE html>")
    assert read["_meta"]["ui"]["csp"] == {
        "connectDomains": [],
        "resourceDomains": [],
        "frameDomains": [],
    }
    # the text result stays complete for the model and for text-only clients
    called = post(
        app_server,
        sessions,
        request("tools/call", {"name": "greet", "arguments": {"name": "Ana"}}),
        **session,
    ).body["result"]
    assert json.loads(called["content"][0]["text"]) == called["structuredContent"]


def test_a_client_that_does_not_announce_apps_sees_no_card(app_server, sessions):
    opened = initialize(app_server, sessions)
    assert opened.body["result"]["capabilities"] == {"tools": {"listChanged": False}}
    session = session_of(opened)
    tools = post(app_server, sessions, request("tools/list"), **session).body
    assert all("_meta" not in tool for tool in tools["result"]["tools"])
    listed = post(app_server, sessions, request("resources/list"), **session).body
    assert listed["result"]["resources"] == []
    read = post(
        app_server, sessions, request("resources/read", {"uri": CARD_URI}), **session
    ).body
    assert read["error"]["code"] == apps.RESOURCE_NOT_FOUND
    assert "resources/list" in read["error"]["message"]


def test_the_2026_07_28_revision_offers_the_card_per_request(app_server):
    shown = modern(app_server, "server/discover", capabilities=SHOWS_APPS)
    assert apps.UI_EXTENSION in shown.body["result"]["capabilities"]["extensions"]
    plain = modern(app_server, "server/discover").body["result"]["capabilities"]
    assert "extensions" not in plain and "resources" not in plain
    tools = modern(app_server, "tools/list", capabilities=SHOWS_APPS).body["result"]
    assert tools["tools"][0]["_meta"]["ui"]["resourceUri"] == CARD_URI
    plain_tools = modern(app_server, "tools/list").body["result"]["tools"]
    assert "_meta" not in plain_tools[0]
    read = modern(
        app_server, "resources/read", {"uri": CARD_URI}, capabilities=SHOWS_APPS
    )
    assert read.status == 200
    assert read.body["result"]["contents"][0]["uri"] == CARD_URI
    hidden = modern(app_server, "resources/read", {"uri": CARD_URI}).body
    assert hidden["error"]["code"] == apps.RESOURCE_NOT_FOUND


def test_a_server_without_apps_has_no_resources_methods(server, sessions):
    reply = call(server, sessions, "2025-11-25", "resources/list")
    assert reply.body["error"]["code"] == errors.METHOD_NOT_FOUND


@pytest.mark.parametrize(
    "capabilities",
    [
        None,
        {},
        {"extensions": {apps.UI_EXTENSION: {}}},
        {"extensions": {apps.UI_EXTENSION: {"mimeTypes": ["text/html"]}}},
        {"extensions": ["io.modelcontextprotocol/ui"]},
        "ui",
    ],
)
def test_only_the_extension_with_its_html_profile_counts(capabilities):
    assert not apps.shows_apps(capabilities)
