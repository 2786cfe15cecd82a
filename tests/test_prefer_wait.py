"""``Prefer: wait=N`` (RFC 7240) against a real ``odoo-bin --workers 2``: the
quotation in the answer to the first call when the queue is idle, the usual
202 when it is busy or the build is late, and never a task lost."""

import http.client
import json
import os
import signal
import time
from contextlib import closing, contextmanager
from urllib.parse import urlsplit

import harness
import pytest
import requests
from helpers.exactly_once import (
    assert_built_once,
    cursor,
    customers_by_email,
    history,
    process_blocked_by,
    row_locked_for,
)
from helpers.mcp import modern_rpc
from helpers.servers import start_odoo_server, stop_odoo_server
from helpers.voice_agent import ELEVENLABS_BODY, post_quotation, wait_until_final

LEASE_SECONDS = 6  # a killed worker's task is resumed after this


def _body(conversation_id):
    return dict(ELEVENLABS_BODY, conversation_id=conversation_id)


@contextmanager
def orders_locked(server):
    """Hold quotations back: no sale.order can be inserted until the block
    ends (a build then waits on PostgreSQL, as a slow one would)."""
    connection = harness.pg_connect(server.database)
    try:
        connection.autocommit = False
        connection.cursor().execute("LOCK TABLE sale_order IN SHARE MODE")
        yield
    finally:
        connection.rollback()
        connection.close()


def _status(server, queued):
    return wait_until_final(server, queued["status_url"])


def test_an_idle_queue_answers_200_with_the_quotation(odoo_server):
    response = post_quotation(odoo_server, _body("conv_wait_idle"), Prefer="wait=3")
    assert response.status_code == 200, response.text
    assert response.headers["Preference-Applied"] == "wait=3"
    answer = response.json()
    assert answer["status"] == "done", answer
    assert answer["order_reference"].startswith("S")
    assert answer["total"] > 2 * 520 + 4 * 189 - 0.01
    assert answer["currency"]
    assert "/my/orders/" in answer["portal_url"]
    assert answer["order_reference"] in answer["message"]
    assert answer["message"].startswith("El presupuesto")  # the caller's language
    status = _status(odoo_server, answer)
    for key in ("tracking_id", "status", "order_reference", "total", "portal_url"):
        assert answer[key] == status[key]

    again = post_quotation(odoo_server, _body("conv_wait_idle"), Prefer="wait=3")
    assert again.status_code == 200  # a retry: the same quotation, not a new one
    assert again.json()["order_reference"] == answer["order_reference"]


def test_preferences_other_than_a_whole_wait_are_ignored(odoo_server):
    for number, prefer in enumerate(
        ["wait=soon", "wait=-1", "wait=1.5", "wait=", "respond-async", "wait=0"]
    ):
        response = post_quotation(
            odoo_server, _body(f"conv_wait_bad_{number}"), Prefer=prefer
        )
        assert response.status_code == 202, (prefer, response.text)
        assert "Preference-Applied" not in response.headers
        assert response.json()["status"] == "pending"
        assert _status(odoo_server, response.json())["status"] == "done"


def test_a_wait_longer_than_allowed_is_the_longest_allowed(odoo_server):
    """However long the number (past 4,300 digits ``int()`` refuses it), and
    however often ``wait`` is repeated (the first one counts)."""
    for number, wait in enumerate(["99999999999999999999", "9" * 5000, "0010"]):
        response = post_quotation(
            odoo_server, _body(f"conv_wait_long_{number}"), Prefer=f"wait={wait}"
        )
        assert response.status_code == 200, (wait[:20], response.text)
        assert response.headers["Preference-Applied"] == "wait=10"
    parts = urlsplit(odoo_server.url)
    client = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    body = json.dumps(_body("conv_wait_repeated")).encode()
    client.putrequest("POST", "/api/quotation/async")
    for name, value in (
        ("Authorization", f"Bearer {odoo_server.api_key}"),
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Prefer", "respond-async, wait=2"),
        ("Prefer", "wait=soon"),
    ):
        client.putheader(name, value)
    client.endheaders(body)
    with closing(client):
        response = client.getresponse()
        assert response.status == 200, response.read()
        assert response.headers["Preference-Applied"] == "wait=2"


def test_a_late_build_answers_202_and_still_finishes(odoo_server):
    with orders_locked(odoo_server):
        response = post_quotation(odoo_server, _body("conv_wait_late"), Prefer="wait=1")
        assert response.status_code == 202, response.text
        assert "Preference-Applied" not in response.headers
        assert response.json()["status"] == "pending"
    status = _status(odoo_server, response.json())
    assert status["status"] == "done", status
    assert status["attempts"] == 1  # built once, by the worker that waited


def test_a_busy_queue_answers_202_at_once_and_loses_nothing(odoo_server):
    with orders_locked(odoo_server):
        first = post_quotation(odoo_server, _body("conv_wait_busy_1"), Prefer="wait=1")
        # the first one is being built: the queue is busy
        second = post_quotation(
            odoo_server, _body("conv_wait_busy_2"), Prefer="wait=10"
        )
        assert (first.status_code, second.status_code) == (202, 202)
        assert "Preference-Applied" not in second.headers
        assert second.elapsed.total_seconds() < 5  # did not wait for the build
    references = set()
    for queued in (first.json(), second.json()):
        status = _status(odoo_server, queued)
        # once the lock goes, the two builds run at once: one may be retried
        # (the queue's back-off at work), neither is lost nor built twice
        assert status["status"] == "done", status
        references.add(status["order_reference"])
    assert len(references) == 2


@pytest.fixture(scope="module")
def leased_server(tmp_path_factory):
    """A server whose tasks are resumed 6 s after their worker stopped."""
    server = start_odoo_server(
        tmp_path_factory.mktemp("odoo-lease"),
        params={
            "odoo_mcp_quotation.lease_seconds": str(LEASE_SECONDS),
            "odoo_mcp_quotation.backoff_seconds": "1",
        },
    )
    yield server
    stop_odoo_server(server)


def _rows(server, query, params):
    with cursor(server.database) as cr:
        cr.execute(query, params)
        return cr.fetchall()


def test_a_worker_killed_mid_build_leaves_the_task_to_finish_once(leased_server):
    """The HTTP worker that builds while its client waits is killed (SIGKILL)
    with the quotation half made: the client gets no answer, its retry finds
    the same task, and a cron worker resumes it once its lease has run out."""
    server = leased_server
    body = dict(
        _body("conv_wait_killed"),
        email="ana@killed.example",
        lines=[{"product": "CHAIR-ERG", "quantity": 2}],
    )
    # the order line's product: the build stops there, with the customer and
    # the opportunity already made in its transaction
    locker, locker_pid = row_locked_for(
        server.database,
        "SELECT id FROM product_product WHERE default_code = 'CHAIR-ERG'",
    )
    parts = urlsplit(server.url)
    client = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        client.request(
            "POST",
            "/api/quotation/async",
            json.dumps(body),
            headers={
                "Authorization": f"Bearer {server.api_key}",
                "Content-Type": "application/json",
                "Prefer": "wait=10",
            },
        )
        worker = process_blocked_by(server.database, [server], locker_pid)
        # the idle queue: the worker holding this very request builds it
        client_port = client.sock.getsockname()[1]
        assert any(
            c.raddr and c.raddr.port == client_port
            for c in worker.connections(kind="tcp")
        ), "a cron worker took the task, not the HTTP worker"
        [(tracking_id, state, attempts)] = _rows(
            server,
            "SELECT tracking_id, state, attempts FROM quotation_task "
            "WHERE request_payload->>'conversation_id' = %s",
            [body["conversation_id"]],
        )
        assert (state, attempts) == ("processing", 1)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        killed_at = time.monotonic()
        with pytest.raises(ConnectionError):
            client.getresponse()
    finally:
        client.close()
        locker.rollback()
        locker.close()

    # the agent heard nothing and asks again: the same task, still under way
    retry = post_quotation(server, body, Prefer="wait=3")
    assert retry.status_code == 202, retry.text
    assert retry.json()["tracking_id"] == tracking_id
    status = wait_until_final(server, retry.json()["status_url"], LEASE_SECONDS + 60)
    assert status["status"] == "done", status
    assert status["attempts"] == 2
    assert time.monotonic() - killed_at > LEASE_SECONDS - 2, "resumed after its lease"
    assert_built_once(server.database, [tracking_id])
    claims, _done, _created = history(server.database, [tracking_id])[tracking_id]
    assert claims == 2, "claimed by the killed worker, then by a cron worker"
    assert customers_by_email(server.database, "killed.example") == {
        "ana@killed.example": 1
    }
    leads = _rows(
        server, "SELECT count(*) FROM crm_lead WHERE email_from = %s", [body["email"]]
    )
    assert leads == [(1,)], "one opportunity"


def test_the_mcp_tool_returns_the_finished_quotation(odoo_server):
    arguments = _body("conv_wait_mcp")
    _status_code, _headers, created = modern_rpc(
        odoo_server,
        "tools/call",
        {"name": "create_quotation", "arguments": arguments},
    )
    answer = created["result"]["structuredContent"]
    assert answer["status"] == "done", answer
    assert answer["order_reference"].startswith("S")
    assert answer["order_reference"] in answer["message"]
    assert answer["portal_url"]


def test_the_generated_elevenlabs_tool_gets_the_quotation_in_one_call(odoo_server):
    """The create_quotation tool as ElevenLabs sends it: its literal headers
    (``Prefer: wait=3``), the secret's value for ``Authorization``."""
    tools = requests.get(
        f"{odoo_server.url}/api/quotation/elevenlabs-tools.json", timeout=20
    ).json()
    create = tools[0]["tool_config"]
    # the status tool is for a 202 only
    description = create["description"].lower()
    assert "only if it answers status pending" in description
    api = create["api_schema"]
    headers = {
        name: value
        for name, value in api["request_headers"].items()
        if isinstance(value, str)
    }
    assert headers == {"Prefer": "wait=3"}
    response = requests.request(
        api["method"],
        api["url"],
        json=_body("conv_wait_elevenlabs"),
        headers={"Authorization": f"Bearer {odoo_server.api_key}", **headers},
        timeout=20,
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "done"
