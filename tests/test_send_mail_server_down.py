"""Sending a quotation while the mail server is down, then back: a real
``odoo-bin --workers 2`` and a real SMTP server (aiosmtpd) on 127.0.0.1.

Odoo's test mode never talks SMTP, so only a real server shows what the
customer receives: nothing while the server is down (the quotation stays,
the failure is told), then exactly one e-mail once it is back.
"""

import email
import email.policy
import time
from contextlib import contextmanager

import harness
import pytest
import requests
from aiosmtpd.controller import Controller
from helpers.pure_modules import load
from helpers.servers import free_port, odoo_shell, start_odoo_server, stop_odoo_server
from helpers.voice_agent import ELEVENLABS_BODY, post_quotation, wait_until_final

CUSTOMER = ELEVENLABS_BODY["email"]
# the mail server the addon's e-mails go to, on a port where nothing listens;
# the quotation's PDF left out: no report engine (wkhtmltopdf) here, whose
# absence test_quotation_send tries on its own
MAIL_SERVER_SETUP = """
env["ir.mail_server"].create({{
    "name": "Test SMTP", "smtp_host": "127.0.0.1", "smtp_port": {port},
    "smtp_encryption": "none", "sequence": 1,
}})
env.ref("sale.email_template_edi_sale").report_template_ids = False
user.email = "integration@example.com"
user.ai_agent_scopes = (user.ai_agent_scopes or "") + " quotations:send"
"""
Inbox = load("tests.smtp_server").Inbox
# retried two seconds after a failure, so the test need not wait the default
RETRY_PARAMS = {
    "odoo_mcp_quotation.backoff_seconds": "2",
    "odoo_mcp_quotation.backoff_max_seconds": "2",
}


@contextmanager
def mail_server_up(port):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    smtp_port = free_port()
    server = start_odoo_server(
        tmp_path_factory.mktemp("odoo"),
        params=RETRY_PARAMS,
        setup=MAIL_SERVER_SETUP.format(port=smtp_port),
    )
    server.extra["smtp_port"] = smtp_port
    yield server
    stop_odoo_server(server)


def _headers(server):
    return {"Authorization": f"Bearer {server.api_key}"}


def _query(server, sql, *args):
    connection = harness.pg_connect(server.database)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, args)
            return cursor.fetchall()
    finally:
        connection.close()


def _order(server, reference):
    """(id, state) of the quotation, read from the database."""
    rows = _query(server, "SELECT id, state FROM sale_order WHERE name = %s", reference)
    assert len(rows) == 1, rows
    return rows[0]


def _unsent_mails(server, order_id):
    """E-mails about the quotation still queued or failed in Odoo."""
    return _query(
        server,
        "SELECT m.id, m.state FROM mail_mail m JOIN mail_message msg"
        " ON msg.id = m.mail_message_id WHERE msg.model = 'sale.order'"
        " AND msg.res_id = %s AND m.state IN ('outgoing', 'exception')",
        order_id,
    )


def _chatter(server, order_id):
    return [
        str(body)
        for (body,) in _query(
            server,
            "SELECT body FROM mail_message WHERE model = 'sale.order' AND res_id = %s",
            order_id,
        )
    ]


def _wake_cron_workers(server):
    """What the cron workers' own minute tick would do, sooner: they LISTEN
    on ``cron_trigger`` in the ``postgres`` database."""
    connection = harness.pg_connect("postgres")
    try:
        connection.cursor().execute(
            "SELECT pg_notify('cron_trigger', %s)", (server.database,)
        )
    finally:
        connection.close()


def _wait_for_email_state(server, status_url, wanted, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = requests.get(status_url, headers=_headers(server), timeout=20).json()
        if wanted(status):
            return status
        _wake_cron_workers(server)
        time.sleep(1)
    raise AssertionError(f"not reached after {timeout} s: {status}")


def _build(server, conversation_id):
    body = dict(ELEVENLABS_BODY, conversation_id=conversation_id, lang="en")
    response = post_quotation(server, body, Prefer="wait=5")
    assert response.status_code in (200, 202), response.text
    status_url = response.json()["status_url"]
    status = wait_until_final(server, status_url)
    assert status["status"] == "done", status
    return dict(status, status_url=status_url)


def _assert_one_email_to_the_customer(inbox, reference):
    assert len(inbox.envelopes) == 1, [e.rcpt_tos for e in inbox.envelopes]
    envelope = inbox.envelopes[0]
    assert envelope.rcpt_tos == [CUSTOMER]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert reference in message["Subject"]
    assert CUSTOMER in message["To"]


def _assert_no_second_email(server, inbox, order_id):
    _wake_cron_workers(server)  # Odoo's mail queue and ours run: nothing left
    time.sleep(4)
    assert len(inbox.envelopes) == 1
    assert not _unsent_mails(server, order_id)


def test_a_send_while_the_mail_server_is_down_is_retried_and_sent_once(server):
    built = _build(server, "conv_mail_down_send")
    reference = built["order_reference"]
    order_id, _state = _order(server, reference)
    response = requests.post(
        f"{server.url}/api/quotation/{reference}/send",
        json={"confirm": True},
        headers=_headers(server),
        timeout=30,
    )
    # the quotation is ready, not sent, and the agent is told so
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["email"] == "to_send", answer
    assert "Connection refused" in answer["error"]
    assert "not been e-mailed" in answer["message"]
    assert _order(server, reference) == (order_id, "draft")
    status = requests.get(built["status_url"], headers=_headers(server), timeout=20)
    status = status.json()
    assert (status["status"], status["email"]) == ("done", "to_send"), status
    assert "Connection refused" in status["email_error"]
    assert "not been e-mailed" in status["message"]
    # the failed attempt left no e-mail behind, only a note on the quotation
    assert not _unsent_mails(server, order_id)
    chatter = _chatter(server, order_id)
    assert any("could not be e-mailed" in body for body in chatter), chatter

    with mail_server_up(server.extra["smtp_port"]) as inbox:
        status = _wait_for_email_state(
            server, built["status_url"], lambda s: s["email"] == "sent"
        )
        assert "email_error" not in status
        assert "not been e-mailed" not in status["message"]
        _assert_one_email_to_the_customer(inbox, reference)
        assert _order(server, reference) == (order_id, "sent")
        _assert_no_second_email(server, inbox, order_id)


def _send_after_build(server, on):
    """Switch *send the quotation by e-mail* as the settings form would, the
    running workers told (their cached settings dropped)."""
    odoo_shell(
        server.database,
        "env['ir.config_parameter'].set_param("
        f"'odoo_mcp_quotation.send_quotation_email', {on!r})\n"
        "env.cr.commit()\nenv.registry.signal_changes()\nprint('OMQ_DONE=1')\n",
    )


def test_the_build_time_email_waits_for_the_mail_server_too(server):
    _send_after_build(server, True)
    try:
        built = _build(server, "conv_mail_down_build")
        status = _wait_for_email_state(
            server, built["status_url"], lambda s: "email_error" in s
        )
        # built and done; the e-mail to be sent, and why it was not yet
        assert (status["status"], status["email"]) == ("done", "to_send"), status
        assert "Connection refused" in status["email_error"]
        assert "not been e-mailed" in status["message"]
        reference = status["order_reference"]
        order_id, state = _order(server, reference)
        assert state == "draft"
        assert not _unsent_mails(server, order_id)

        with mail_server_up(server.extra["smtp_port"]) as inbox:
            _wait_for_email_state(
                server, built["status_url"], lambda s: s["email"] == "sent"
            )
            _assert_one_email_to_the_customer(inbox, reference)
            _assert_no_second_email(server, inbox, order_id)
    finally:
        _send_after_build(server, False)
