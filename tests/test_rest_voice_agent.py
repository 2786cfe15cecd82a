"""A voice agent's calls against a real ``odoo-bin --workers 2``: crons included."""

import time

import requests
from helpers.mcp import modern_rpc
from helpers.servers import start_odoo_server, stop_odoo_server
from helpers.voice_agent import ELEVENLABS_BODY, post_quotation, wait_until_final


def test_voice_agent_gets_a_quotation_within_seconds(odoo_server):
    started = time.monotonic()
    response = post_quotation(odoo_server, ELEVENLABS_BODY)
    assert response.status_code == 202, response.text
    queued = response.json()
    assert queued["message"].startswith("Gracias")

    status = wait_until_final(odoo_server, queued["status_url"])
    elapsed = time.monotonic() - started
    assert status["status"] == "done", status
    assert status["order_reference"].startswith("S")
    assert status["total"] > 2 * 520 + 4 * 189 - 0.01
    assert status["order_reference"] in status["message"]
    assert "/my/orders/" in status["portal_url"]
    assert elapsed < 10, f"the cron picked the task up late ({elapsed:.1f} s)"


def test_retried_tool_call_returns_the_same_tracking_id(odoo_server):
    body = dict(ELEVENLABS_BODY, conversation_id="conv_retry_42")
    first = post_quotation(odoo_server, body).json()
    second = post_quotation(odoo_server, body).json()
    assert first["tracking_id"] == second["tracking_id"]


def test_unknown_product_fails_with_a_sentence_to_read_aloud(odoo_server):
    body = dict(ELEVENLABS_BODY, conversation_id=None, lang="en")
    body["lines"] = [{"product": "Flux Capacitor", "quantity": 1}]
    status = wait_until_final(
        odoo_server, post_quotation(odoo_server, body).json()["status_url"]
    )
    assert status["status"] == "failed"
    assert "Flux Capacitor" in status["error"]
    assert status["message"].startswith("The quotation could not be created")


def test_an_idle_queue_is_built_by_the_http_worker_that_answered(tmp_path):
    """No cron worker at all: the HTTP worker answers at once, then builds
    the quotation itself, as the queue held nothing else; or builds it first
    when the client waits for it (``Prefer: wait``, the MCP tool call)."""
    server = start_odoo_server(tmp_path, cron_threads=0)
    try:
        started = time.monotonic()
        response = post_quotation(server, ELEVENLABS_BODY)
        answered = time.monotonic() - started
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "pending"
        assert answered < 5  # not held back by the build that follows
        status = wait_until_final(server, response.json()["status_url"])
        assert status["status"] == "done", status

        body = dict(ELEVENLABS_BODY, conversation_id="conv_waiting")
        waited = post_quotation(server, body, Prefer="wait=3")
        assert waited.status_code == 200, waited.text
        assert waited.json()["status"] == "done"

        arguments = dict(ELEVENLABS_BODY, conversation_id="conv_over_mcp")
        _status, _headers, created = modern_rpc(
            server, "tools/call", {"name": "create_quotation", "arguments": arguments}
        )
        finished = created["result"]["structuredContent"]
        assert finished["status"] == "done", finished
        assert finished["order_reference"] in finished["message"]
    finally:
        stop_odoo_server(server)


def test_tasks_survive_a_restart(tmp_path):
    """Queued while no cron runs (and no HTTP worker builds), the server
    stops, another one finishes them."""
    first = start_odoo_server(
        tmp_path,
        cron_threads=0,
        params={"odoo_mcp_quotation.build_when_idle": "False"},
    )
    try:
        urls = [
            post_quotation(first, dict(ELEVENLABS_BODY, conversation_id=f"c{n}")).json()
            for n in range(3)
        ]
    finally:
        stop_odoo_server(first, drop=False)
    second = start_odoo_server(tmp_path, database=first.database)
    second.api_key = first.api_key
    try:
        for queued in urls:
            status_url = queued["status_url"].replace(first.url, second.url)
            assert wait_until_final(second, status_url)["status"] == "done"
    finally:
        stop_odoo_server(second)


def test_health_answers_503_when_the_database_is_gone(tmp_path):
    server = start_odoo_server(tmp_path)
    try:
        healthy = requests.get(f"{server.url}/health", timeout=10)
        assert (healthy.status_code, healthy.json()) == (200, {"ok": True})
        import harness  # noqa: PLC0415  (put on sys.path by helpers.servers)

        harness.drop_database(server.database)
        down = requests.get(f"{server.url}/health", timeout=10)
        assert (down.status_code, down.json()) == (503, {"ok": False})
    finally:
        stop_odoo_server(server)
