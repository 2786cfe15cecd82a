"""Streams against a real ``odoo-bin --workers 2``: caps raced over raw
sockets, and what a stream that asks its client keeps.

Many ``GET /mcp/sse`` sent at the same instant: each is answered 200 only if
it took a free slot first, so no cap is ever exceeded, and the HTTP workers
keep answering ``/web/health`` all along.
"""

import json
import socket
import threading
import time
from urllib.parse import urlsplit

import harness
import pytest
from helpers.mcp import ask_about_a_desk, health_answers, port_open, rpc
from helpers.servers import start_odoo_server, stop_odoo_server

PER_USER = 5
HEALTH_WITHIN_SECONDS = 1.0
ANSWER_WITHIN_SECONDS = 10
SECOND_AGENT = """
from odoo.addons.odoo_mcp_quotation.compat import USER_GROUPS
second = env["res.users"].create({
    "name": "Second Agent",
    "login": "second-agent",
    USER_GROUPS: [(6, 0, user[USER_GROUPS].ids)],
    "ai_agent_scopes": user.ai_agent_scopes,
})
keys = env["res.users.apikeys"].with_user(second).sudo()
print("OMQ_SECOND_KEY=" + keys._generate(None, "second", None))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = start_odoo_server(
        tmp_path_factory.mktemp("odoo-streams"),
        params={"odoo_mcp_quotation.mcp_streams_per_user": str(PER_USER)},
        setup=SECOND_AGENT,
    )
    yield server
    stop_odoo_server(server)


class HealthWatch:
    """Asks ``/web/health`` over and over on a thread; the slowest answer."""

    def __init__(self, base):
        self.base, self.slowest, self.failed = base, 0.0, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                answered = health_answers(self.base, timeout=HEALTH_WITHIN_SECONDS)
            except OSError as error:
                answered = error
            self.slowest = max(self.slowest, time.monotonic() - started)
            if answered is not True:
                self.failed.append(answered)
            self._stop.wait(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_exc):
        self._stop.set()
        self._thread.join()


def race(base, keys):
    """Open one socket per key, then send every ``GET /mcp/sse`` at once.

    Returns the status of each answer and the sockets (the 200s are live
    streams: the caller closes them).
    """
    parts = urlsplit(base)
    sockets = [
        socket.create_connection((parts.hostname, parts.port), timeout=30)
        for _key in keys
    ]
    requests = [
        (
            f"GET /mcp/sse HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Authorization: Bearer {key}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
        for key in keys
    ]
    for sock, request in zip(sockets, requests, strict=True):
        sock.sendall(request)
    statuses = []
    for sock in sockets:
        sock.settimeout(ANSWER_WITHIN_SECONDS)
        head = b""
        try:
            while b"\r\n" not in head:
                chunk = sock.recv(1024)
                if not chunk:
                    break
                head += chunk
        except TimeoutError:
            pass  # no answer: a worker is held by a stream it should not hold
        statuses.append(int(head.split(b" ", 2)[1]) if b"\r\n" in head else None)
    return statuses, sockets


def close_all(sockets):
    for sock in sockets:
        sock.close()


def kept_messages(server, session_key, where="TRUE"):
    with harness.pg_connect(server.database) as connection:
        cursor = connection.cursor()
        cursor.execute(
            "SELECT count(*) FROM mcp_session_message m "
            "JOIN mcp_session s ON s.id = m.session_id "
            f"WHERE s.session_key = %s AND {where}",
            [session_key],
        )
        return cursor.fetchone()[0]


def test_only_answers_to_the_questions_asked_are_kept_and_none_after(server):
    """While a tools/call waits for its client's answer, answers to ids the
    server never asked are not stored (each could be 1 MiB); once the stream
    ends, its session keeps no row."""
    session, _call, stream = ask_about_a_desk(server)
    session_key = session["Mcp-Session-Id"]
    try:
        question = json.loads(stream.next_event()[1])
        assert question["method"] == "elicitation/create"
        for forged in range(3):
            stray = {
                "jsonrpc": "2.0",
                "id": f"elicit-never-asked-{forged}",
                "result": {"action": "accept", "content": {"x": "y" * 100_000}},
            }
            assert rpc(server, stray, session)[0] == 202
        assert kept_messages(server, session_key, "payload IS NOT NULL") == 0
        answer = {"jsonrpc": "2.0", "id": question["id"]}
        answer["result"] = {"action": "decline"}
        assert rpc(server, answer, session)[0] == 202
        response = json.loads(stream.next_event()[1])
    finally:
        stream.close()
    assert response["id"] == 2
    assert "No quotation was made" in response["result"]["content"][0]["text"]
    assert kept_messages(server, session_key) == 0


def test_twenty_streams_raced_by_one_user_take_at_most_its_cap(server):
    """On the gevent port, where streams live: exactly the cap is answered
    200, the rest 429; the HTTP workers answer /web/health meanwhile."""
    gevent = server.extra["gevent_url"]
    deadline = time.monotonic() + 30  # it starts after the HTTP workers
    while not port_open(gevent) and time.monotonic() < deadline:
        time.sleep(0.5)
    if not port_open(gevent):
        pytest.skip("Odoo's gevent process did not start in this virtualenv")
    with HealthWatch(server.url) as health:
        statuses, sockets = race(gevent, [server.api_key] * 20)
        try:
            time.sleep(1)  # the streams held, /web/health still asked
        finally:
            close_all(sockets)
    assert sorted(statuses) == [200] * PER_USER + [429] * (20 - PER_USER)
    assert not health.failed, health.failed
    assert health.slowest < HEALTH_WITHIN_SECONDS


@pytest.mark.parametrize("users", [1, 2])
def test_streams_raced_on_the_http_port_leave_half_the_workers_free(server, users):
    """20 opens by one user, or 2 by two users. Two prefork workers: one
    stream at most, whoever asks; the other
    worker answers the rest at once (503 with Retry-After) and /web/health
    within a second throughout."""
    keys = [server.api_key] * 20
    if users == 2:
        keys = [server.api_key, server.extra["SECOND_KEY"]]
    with HealthWatch(server.url) as health:
        statuses, sockets = race(server.url, keys)
        try:
            time.sleep(1)
        finally:
            close_all(sockets)
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 429, 503}, statuses
    assert not health.failed, health.failed
    assert health.slowest < HEALTH_WITHIN_SECONDS
