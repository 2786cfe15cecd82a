"""Hostile input at every door: the corpus in ``tests/hostile/*.json``, run for real.

One Odoo server (three prefork workers: one holds the legacy SSE stream) serves
every case over REST, MCP Streamable HTTP, MCP legacy SSE, the ElevenLabs
webhooks and Odoo's own XML-RPC and JSON-RPC. Each case must get its
documented 4xx (or JSON-RPC error), never a 5xx, leave the database as it was
(rows counted) and write no traceback to the server log. The crons are off,
so nothing else moves.
"""

import http.client
import json
import os
import re
import select
import socket
import subprocess
import time
import xmlrpc.client
from contextlib import closing
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import harness
import pytest
from helpers.mcp import SseStream, initialize_message
from helpers.servers import start_odoo_server, stop_odoo_server

CORPUS = Path(__file__).parent / "hostile"
COUNTED_TABLES = (
    "quotation_task",
    "quotation_task_line",
    "quotation_audit_entry",
    "res_partner",
    "sale_order",
    "mcp_session",
    "res_users_apikeys",
    "mcp_oauth_client",
    "elevenlabs_webhook_delivery",
)
INIT_SECRET = "hostile-init-secret"
SETUP = """
from odoo.addons.odoo_mcp_quotation.compat import USER_GROUPS
from odoo.addons.odoo_mcp_quotation.lib.request_schema import parse_request
for lane in ("tasks", "tasks_lane2"):
    env.ref("odoo_mcp_quotation.ir_cron_process_quotation_" + lane).active = False
env.ref("base.autovacuum_job").active = False  # it deletes the expired key
Users, Keys = env["res.users"], env["res.users.apikeys"]
seller = env.ref("sales_team.group_sale_salesman")
def new_key(person, name):
    return Keys.with_user(person).sudo()._generate(None, name, None)
def new_task(person, name, **context):
    payload = {"customer_name": name, "email": "x@example.com",
               "lines": [{"product": "DESK-STD"}]}
    tasks = env["quotation.task"].with_user(person).with_context(**context)
    return tasks._create_from_request(parse_request(payload), "rest", name)
other = Users.create({"name": "Other Seller", "login": "other",
                      USER_GROUPS: [(6, 0, [seller.id])]})
manager = Users.create({"name": "AI Manager", "login": "manager", USER_GROUPS: [
    (6, 0, [env.ref("odoo_mcp_quotation.group_quotation_task_manager").id])]})
portal = Users.create({"name": "Portal Customer", "login": "portal",
                       USER_GROUPS: [(6, 0, [env.ref("base.group_portal").id])]})
company_b = env["res.company"].create({"name": "Company B"})
# the REST update and send doors need their scopes
closer = Users.create({"name": "Closer", "login": "closer",
    "ai_agent_scopes": "quotations:create quotations:update quotations:send",
    USER_GROUPS: [(6, 0, [seller.id])]})
b_seller = Users.create({"name": "B Seller", "login": "b_seller",
    "company_id": company_b.id, "company_ids": [(6, 0, [company_b.id])],
    USER_GROUPS: [(6, 0, [seller.id])]})
expired = new_key(user, "expired")
env.cr.execute("UPDATE res_users_apikeys SET expiration_date = now() - interval '1 day'"
               " WHERE name = 'expired'")
revoked = new_key(user, "revoked")
Keys.search([("name", "=", "revoked")]).unlink()
own_task = new_task(user, "Own Task")
other_task = new_task(other, "Other Task")
b_task = new_task(b_seller, "B Task", allowed_company_ids=[company_b.id])
refs = dict(
    OTHER_KEY=new_key(other, "other"), MANAGER_KEY=new_key(manager, "manager"),
    PORTAL_KEY=new_key(portal, "portal"), CLOSER_KEY=new_key(closer, "closer"),
    EXPIRED_KEY=expired, REVOKED_KEY=revoked,
    INTEGRATION_UID=user.id, MANAGER_UID=manager.id, PORTAL_UID=portal.id,
    ADMIN_UID=env.ref("base.user_admin").id, B_COMPANY_ID=company_b.id,
    OWN_TASK_ID=own_task.id, OWN_LINE_ID=own_task.line_ids.id,
    OTHER_TASK_ID=other_task.id, OTHER_LINE_ID=other_task.line_ids.id,
    OTHER_TRACKING_ID=other_task.tracking_id,
    OTHER_IDEMPOTENCY_KEY=other_task.idempotency_key,
    B_TASK_ID=b_task.id, B_TRACKING_ID=b_task.tracking_id,
)
for name, value in refs.items():
    print(f"OMQ_{name}={value}")
"""


# ---------------------------------------------------------------- the server
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = start_odoo_server(
        tmp_path_factory.mktemp("odoo-hostile"),
        workers=3,
        cron_threads=1,
        params={
            "odoo_mcp_quotation.rate_limit_per_minute": "100000",
            "odoo_mcp_quotation.rate_limit_per_user_per_minute": "100000",
            "odoo_mcp_quotation.oauth_enabled": "True",
            "odoo_mcp_quotation.elevenlabs_init_secret": INIT_SECRET,
            "odoo_mcp_quotation.elevenlabs_webhook_secret": "wsec_hostile",
        },
        setup=SETUP,
    )
    refs = dict(server.extra)
    refs["OTHER_TRACKING_ID_UPPER"] = refs["OTHER_TRACKING_ID"].upper()
    refs["INTEGRATION_KEY"] = server.api_key
    refs["INIT_SECRET"] = INIT_SECRET
    server.extra["refs"] = refs
    yield server
    stop_odoo_server(server)


SHORTHANDS = {
    "$repeat": lambda args, refs: args[0] * args[1],
    "$list": lambda args, refs: [args[0]] * args[1],
    "$concat": lambda args, refs: "".join(expand(part, refs) for part in args),
    "$bytes": lambda args, refs: bytes.fromhex(args),
    "$today": lambda args, refs: date.today().strftime(args),
}


def expand(value, refs):
    """The corpus' shorthands: ``$NAME`` references, repeats, byte strings."""
    if isinstance(value, str):
        return re.sub(r"\$([A-Z_]+)", lambda m: str(refs.get(m[1], m[0])), value)
    if isinstance(value, list):
        return [expand(item, refs) for item in value]
    if not isinstance(value, dict):
        return value
    for name, shorthand in SHORTHANDS.items():
        if name in value:
            return shorthand(value[name], refs)
    return {key: expand(item, refs) for key, item in value.items()}


def typed(value, refs):
    """A reference that names an id stays an integer."""
    value = expand(value, refs)
    if isinstance(value, str) and value.isdigit() and len(value) < 10:
        return int(value)
    if isinstance(value, list):
        return [typed(item, refs) for item in value]
    if isinstance(value, dict):
        return {key: typed(item, refs) for key, item in value.items()}
    return value


def sql(server, query, params=()):
    """The first row of a query, on one autocommit connection to the server's DB."""
    connection = server.extra.get("connection")
    if connection is None:
        connection = server.extra["connection"] = harness.pg_connect(server.database)
        connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchone()


def counts(server):
    return {
        table: sql(server, f"SELECT count(*) FROM {table}")[0]
        for table in COUNTED_TABLES
    }


class LogWatch:
    """Fails a case that wrote a traceback or an error to the server log."""

    def __init__(self, server):
        self.server = server
        self.offset = len(server.log())

    def new_errors(self):
        text = self.server.log()[self.offset :]
        self.offset += len(text)
        return [
            line
            for line in text.splitlines()
            if "Traceback" in line or " ERROR " in line or " CRITICAL " in line
        ]


# ---------------------------------------------------------------- HTTP
KEYS = {
    "integration": "Bearer $INTEGRATION_KEY",
    "none": None,
    "forged": "Bearer " + "0" * 40,
    "expired": "Bearer $EXPIRED_KEY",
    "revoked": "Bearer $REVOKED_KEY",
    "portal": "Bearer $PORTAL_KEY",
    "other": "Bearer $OTHER_KEY",
    "closer": "Bearer $CLOSER_KEY",
    "init_bearer": "Bearer $INIT_SECRET",  # the webhook's secret, sent otherwise
    "basic": "Basic aW50ZWdyYXRpb246aW50ZWdyYXRpb24=",
    "long": "Bearer " + "k" * 10_000,
    "nul": "Bearer abc\x00def",
    "empty_bearer": "Bearer ",
    "latin1": "Bearer caf\xe9" + "0" * 36,
}


def exchange(server, method, path, body=None, *, headers=None, key="integration"):
    """One raw HTTP exchange: (status, headers, decoded JSON body or raw bytes)."""
    refs = server.extra["refs"]
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    all_headers = {"Authorization": expand(KEYS[key], refs), **(headers or {})}
    if isinstance(body, str):
        body = body.encode()
    connection.putrequest(method, path, skip_accept_encoding=True)
    for name, value in all_headers.items():
        if value is not None:
            connection.putheader(name, value.encode("latin-1", "replace"))
    connection.putheader("Content-Length", str(len(body or b"")))
    connection.endheaders(body)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    try:
        decoded = json.loads(data) if data else None
    except ValueError:
        decoded = data
    return response.status, response.headers, decoded


class McpSession:
    """A Streamable HTTP session at 2025-11-25."""

    def __init__(self, server):
        self.server = server
        status, headers, body = exchange(
            server,
            "POST",
            "/mcp",
            json.dumps(initialize_message()),
            headers=JSON_HEADERS,
        )
        assert status == 200, body
        self.headers = {
            **JSON_HEADERS,
            "Mcp-Session-Id": headers["Mcp-Session-Id"],
            "MCP-Protocol-Version": "2025-11-25",
        }

    def send(self, body, headers=None, key="integration", method="POST", path="/mcp"):
        return exchange(
            self.server,
            method,
            path,
            body,
            headers={**self.headers, **(headers or {})},
            key=key,
        )


class SseSession:
    """A legacy SSE session: answers to POSTs arrive on the stream.

    A prefork worker ends a stream before ``limit_time_real`` (120 s): a
    session older than ``MAX_AGE`` is replaced before the next case.
    """

    MAX_AGE = 90

    def __init__(self, server):
        self.server = server
        self.opened = time.monotonic()
        self.stream = SseStream(server, server.url)
        event, self.path = self.stream.next_event()
        assert event == "endpoint"
        status, _headers, _body = self.send(json.dumps(initialize_message()))
        assert status == 202
        assert "result" in self.stream.next_event()[1]

    def send(self, body, headers=None, key="integration", path=None):
        return exchange(
            self.server,
            "POST",
            path or self.path,
            body,
            headers={**JSON_HEADERS, **(headers or {})},
            key=key,
        )

    def answer(self):
        event, data = self.stream.next_event()
        assert event == "message"
        return json.loads(data)

    def close(self):
        self.stream.close()


JSON_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
}


@pytest.fixture(scope="module")
def mcp(server):
    return McpSession(server)


@pytest.fixture(scope="module")
def sse_holder(server):
    holder = {"session": SseSession(server)}
    yield holder
    holder["session"].close()


@pytest.fixture
def sse(server, sse_holder):
    if time.monotonic() - sse_holder["session"].opened > SseSession.MAX_AGE:
        sse_holder["session"].close()
        sse_holder["session"] = SseSession(server)
    return sse_holder["session"]


@pytest.fixture
def unchanged(server):
    """The database has exactly the rows it had, and the log no new error."""
    before = counts(server)
    log = LogWatch(server)
    yield
    assert counts(server) == before
    assert log.new_errors() == []


def load(name):
    return json.loads((CORPUS / name).read_text())


def ids(cases):
    return [case["name"] for case in cases]


PAYLOADS = load("payloads.json")
HTTP_CASES = load("http.json")
MCP_CASES = load("mcp.json")
RPC_CASES = load("rpc.json")


def test_the_corpus_holds_at_least_150_cases():
    total = sum(
        len(cases)
        for cases in (
            PAYLOADS["refused"],
            PAYLOADS["accepted"],
            HTTP_CASES,
            MCP_CASES,
            RPC_CASES,
        )
    )
    assert total >= 150


# ---------------------------------------------------------------- payloads
def tool_call(arguments, tool="create_quotation"):
    return {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments},
    }


def create_over(transport, arguments, server, mcp, sse):
    """Send create_quotation arguments; return (HTTP status, problem text)."""
    body = json.dumps(arguments if transport == "rest" else tool_call(arguments))
    if transport == "rest":
        status, _headers, reply = exchange(
            server, "POST", "/api/quotation/async", body, headers=JSON_HEADERS
        )
        return status, reply
    if transport == "mcp":
        status, _headers, reply = mcp.send(body)
        return status, reply
    status, _headers, _reply = sse.send(body)
    return status, sse.answer()


TRANSPORTS = ("rest", "mcp", "sse")


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("case", PAYLOADS["refused"], ids=ids(PAYLOADS["refused"]))
def test_refused_payload(case, transport, server, mcp, sse):
    arguments = expand(case["arguments"], server.extra["refs"])
    status, reply = create_over(transport, arguments, server, mcp, sse)
    if transport == "rest":
        assert status == 422, reply
        assert reply["error"]["code"] == "invalid_request"
        fields = {problem["field"] for problem in reply["error"]["details"]}
        assert set(case["problems"]) <= fields, reply
    else:
        assert status == (200 if transport == "mcp" else 202)
        result = reply["result"]
        assert result["isError"] is True
        text = result["content"][0]["text"]
        for field in case["problems"]:
            assert f"- {field}:" in text, text


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("case", PAYLOADS["accepted"], ids=ids(PAYLOADS["accepted"]))
def test_odd_but_valid_payload_is_stored_as_text(case, transport, server, mcp, sse):
    arguments = dict(case["arguments"])
    arguments["conversation_id"] = f"{transport}-{case['name']}"[:128]
    before = counts(server)
    status, reply = create_over(transport, arguments, server, mcp, sse)
    assert status == (200 if transport == "mcp" else 202)
    if transport != "rest":
        reply = reply["result"]["structuredContent"]
    after = counts(server)
    assert after["quotation_task"] == before["quotation_task"] + 1
    assert after["quotation_task_line"] == before["quotation_task_line"] + len(
        arguments["lines"]
    )
    for column, value in case["stored"].items():
        query = f"SELECT {column} FROM quotation_task WHERE tracking_id = %s"
        assert sql(server, query, [reply["tracking_id"]])[0] == value


# ---------------------------------------------------------------- raw HTTP
@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("case", HTTP_CASES, ids=ids(HTTP_CASES))
def test_malformed_http(case, server, mcp, sse):
    refs = server.extra["refs"]
    body = expand(case.get("raw"), refs)
    headers = expand(case["headers"], refs)
    path = expand(case["path"], refs)
    transport = case["transport"]
    if transport == "mcp":
        status, _headers, reply = mcp.send(
            body, headers, case["key"], case["method"], path
        )
    elif transport == "sse":
        status, _headers, reply = sse.send(body, headers, case["key"])
    elif transport == "sse_raw":
        status, _headers, reply = sse.send(body, headers, case["key"], path)
    else:
        status, _headers, reply = exchange(
            server, case["method"], path, body, headers=headers, key=case["key"]
        )
    expected = case["expect"]
    assert status == expected["status"], reply
    if transport == "oauth":  # RFC 6749's error shape
        assert reply["error"] == expected["code"], reply
    elif transport in ("rest", "webhook"):
        if expected["code"]:
            assert reply["error"]["code"] == expected["code"], reply
        if expected["code"] and transport == "rest":  # read aloud by an agent
            assert reply["message"] == reply["error"]["message"]
        assert INIT_SECRET not in str(reply)
    elif expected["rpc_error"] is not None:
        assert reply["error"]["code"] == expected["rpc_error"], reply


# ---------------------------------------------------------------- MCP messages
@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("transport", ("mcp", "sse"))
@pytest.mark.parametrize("case", MCP_CASES, ids=ids(MCP_CASES))
def test_hostile_mcp_message(case, transport, server, mcp, sse):
    body = json.dumps(expand(case["message"], server.extra["refs"]))
    expected = case["expect"]
    if transport == "mcp":
        status, _headers, reply = mcp.send(body)
        assert status == expected.get("status", 200), reply
    else:
        status, _headers, reply = sse.send(body)
        assert status in (202, 400)
        if status == 202:
            reply = sse.answer()
    if "tool_error" in expected:
        assert reply["result"]["isError"] is True, reply
        assert expected["tool_error"] in reply["result"]["content"][0]["text"]
    else:
        assert reply["error"]["code"] == expected["rpc_error"], reply


# ---------------------------------------------------------------- Odoo's RPC
def call_rpc(server, door, case):
    """``(error type, message)`` of an ``execute_kw`` as the case's user."""
    refs = server.extra["refs"]
    user = case["as"].upper()
    uid, key = refs.get(f"{user}_UID"), refs[f"{user}_KEY"]
    args = typed(case["args"], refs)
    kwargs = typed(case["kwargs"], refs)
    call = [server.database, int(uid), key, case["model"], case["method"], args, kwargs]
    if door == "xmlrpc":
        proxy = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/object")
        try:
            proxy.execute_kw(*call)
        except xmlrpc.client.Fault as fault:
            return "Fault", fault.faultString
        return None, None
    body = {
        "jsonrpc": "2.0",
        "method": "call",
        "params": {"service": "object", "method": "execute_kw", "args": call},
    }
    status, _headers, reply = exchange(
        server, "POST", "/jsonrpc", json.dumps(body), headers=JSON_HEADERS
    )
    assert status == 200
    error = reply.get("error")
    if not error:
        return None, None
    return error["data"]["name"].rsplit(".", 1)[-1], error["data"]["message"]


# a case may name its doors: XML cannot carry a NUL, for one
RPC_RUNS = [
    pytest.param(case, door, id=f"{case['name']}-{door}")
    for case in RPC_CASES
    for door in case.get("doors", ("xmlrpc", "jsonrpc"))
]


@pytest.mark.parametrize(("case", "door"), RPC_RUNS)
def test_odoo_rpc_back_door(case, door, server):
    before = counts(server)
    error, message = call_rpc(server, door, case)
    assert error, "the call was accepted"
    if door == "jsonrpc":
        assert re.fullmatch(case["expect"]["error"], error), (error, message)
    assert case["expect"]["says"] in message
    assert counts(server) == before


def test_the_integration_key_still_creates_a_plain_task_over_rpc(server):
    """The door stays open for what the UI does: the engine fields are Odoo's."""
    refs = server.extra["refs"]
    proxy = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/object")
    call = [server.database, int(refs["INTEGRATION_UID"]), refs["INTEGRATION_KEY"]]
    task_id = proxy.execute_kw(
        *call,
        "quotation.task",
        "create",
        [
            {
                "customer_name": "Jose\u0301 RPC",
                "line_ids": [(0, 0, {"product_ref": "X"})],
            }
        ],
    )
    (task,) = proxy.execute_kw(
        *call,
        "quotation.task",
        "read",
        [[task_id], ["customer_name", "state", "requested_by_id", "tracking_id"]],
    )
    assert task["customer_name"] == "José RPC"
    assert task["state"] == "pending"
    assert task["requested_by_id"][0] == int(refs["INTEGRATION_UID"])
    assert re.fullmatch(r"[0-9a-f]{32}", task["tracking_id"])


# ---------------------------------------------------------------- counted
def test_a_refused_deep_body_on_mcp_is_counted_against_the_rate_limit(server, mcp):
    def hits():
        return sql(server, "SELECT coalesce(sum(hits), 0) FROM quotation_rate_limit")[0]

    before = hits()
    status, _headers, reply = mcp.send("[" * 5000)
    assert (status, reply["error"]["code"]) == (400, -32700)
    deadline = time.monotonic() + 5
    while hits() == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert hits() == before + 1


# ---------------------------------------------------------------- endless bodies
MIB = 1024 * 1024
BODY_LIMITS = {  # each door's body limit, and its answer to a longer body
    "/api/quotation/async": (64 * 1024, 413),
    "/mcp": (MIB, 413),
    "/oauth/register": (16 * 1024, 400),  # RFC 7591: invalid_client_metadata
    "/api/elevenlabs/post-call": (25 * MIB, 413),
}
# what the kernel's socket buffers on loopback take in besides what Odoo reads
SOCKET_BUFFERS = 16 * MIB


def chunked_post(server, path):
    """A connection to the server, and the head of a chunked POST to ``path``."""
    parts = urlsplit(server.url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {server.api_key}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    return sock, head.encode()


def status_of(answer):
    match = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
    return int(match.group(1)) if match else None


def stream_chunked(server, path, give_up_after):
    """POST a chunked body of spaces until the server answers or stops the
    connection (or ``give_up_after`` bytes, then end it): (bytes sent, status
    or None when the connection was reset before the answer could be read)."""
    sock, head = chunked_post(server, path)
    piece = b" " * (256 * 1024)
    chunk = b"%x\r\n%s\r\n" % (len(piece), piece)
    sent = 0
    with closing(sock):
        try:
            sock.sendall(head)
            while sent < give_up_after and not select.select([sock], [], [], 0)[0]:
                sock.sendall(chunk)
                sent += len(piece)
            if sent >= give_up_after:
                sock.sendall(b"0\r\n\r\n")
        except OSError:  # reset, or no longer read: the server stopped reading
            pass
        try:
            answer = sock.recv(64)
        except OSError:
            return sent, None
    return sent, status_of(answer)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("path", BODY_LIMITS)
def test_an_endless_chunked_body_is_read_no_further_than_its_limit(server, path):
    """A chunked body announces no length and werkzeug hands it over unbounded:
    each door stops reading one byte past its limit and refuses it, rather
    than holding the whole stream in the worker's memory."""
    limit, refused = BODY_LIMITS[path]
    sent, status = stream_chunked(server, path, limit + 4 * SOCKET_BUFFERS)
    assert sent < limit + SOCKET_BUFFERS, f"{sent // MIB} MiB read"
    assert status == refused
    assert exchange(server, "GET", "/health")[0] == 200


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("path", BODY_LIMITS)
def test_a_broken_chunked_body_is_a_bad_request_at_every_door(server, path):
    """A chunk header that is not hexadecimal: a 400 saying what to send,
    not a 500 with a traceback in the log."""
    sock, head = chunked_post(server, path)
    with closing(sock):
        sock.sendall(head + b"zz\r\n{}\r\n0\r\n\r\n")
        answer = b""
        while part := sock.recv(65536):
            answer += part
    assert status_of(answer) == 400
    assert b"The body could not be read (Invalid chunk header)" in answer


# ---------------------------------------------------------------- fuzzing
def fuzz_python():
    python = os.environ.get("OMQ_VENV_FUZZ")
    if not python:
        pytest.fail("OMQ_VENV_FUZZ is not set: run the tests with `make test`")
    return Path(python)


def test_fuzzing_the_rest_api_from_its_openapi_document_finds_no_server_error(
    server, tmp_path
):
    """Schemathesis, from its own virtualenv: schema-driven bodies and headers."""
    result = subprocess.run(
        [
            str(fuzz_python().parent / "schemathesis"),
            "run",
            f"{server.url}/api/quotation/openapi.json",
            "--checks=not_a_server_error",
            "--phases=fuzzing",
            "--max-examples=40",
            "--seed=13",
            f"--header=Authorization: Bearer {server.api_key}",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        cwd=tmp_path,  # where Schemathesis keeps its own files
    )
    assert result.returncode == 0, result.stdout[-6000:]
    assert re.search(r"\d+ passed", result.stdout), result.stdout[-2000:]


def test_fuzzing_the_mcp_tools_from_their_input_schemas_finds_no_server_error(
    server,
):
    result = subprocess.run(
        [
            str(fuzz_python()),
            str(Path(__file__).parent / "fuzz" / "fuzz_mcp_tools.py"),
            f"--url={server.url}",
            f"--key={server.api_key}",
            "--examples=30",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(report["calls"]) == 6
    assert all(calls >= 30 for calls in report["calls"].values()), report
    assert report["server_errors"] == []


@pytest.mark.parametrize("name", ["n" * 100_000, "evil\x00client\x1b[2J"])
def test_what_a_client_says_it_is_is_stored_bounded_and_clean(server, name):
    message = initialize_message()
    message["params"]["clientInfo"] = {"name": name, "version": "1\x00"}
    status, headers, reply = exchange(
        server, "POST", "/mcp", json.dumps(message), headers=JSON_HEADERS
    )
    assert status == 200, reply
    stored = sql(
        server,
        "SELECT client_name, client_version FROM mcp_session WHERE session_key = %s",
        [headers["Mcp-Session-Id"]],
    )
    assert len(stored[0]) <= 128
    assert stored[0].startswith(name[:4])
    assert "\x00" not in "".join(stored)
    assert "\x1b" not in stored[0]
