"""The audit log end to end: a real odoo-bin (HTTP and cron workers) and moto.

Tasks are created over XML-RPC by the integration user's API key; the
settings are saved by the administrator through ``res.config.settings``, as
the Settings page does. Only Odoo's own crons send anything.
"""

import json
import time

import pytest
from helpers.odoo_rpc import Rpc, wait_for
from helpers.servers import start_odoo_server, stop_odoo_server

from odoo.addons.odoo_mcp_quotation.tests.s3_server import S3TestServer

BACKLOG = 1000
PREFIX = "it-audit"


def task_values(index, product="DESK-STD"):
    return {
        "customer_name": f"Customer {index}",
        "email": f"customer{index}@example.com",
        "line_ids": [(0, 0, {"product_ref": product, "quantity": 1 + index % 3})],
    }


@pytest.fixture(scope="module")
def s3():
    with S3TestServer() as server:
        yield server


@pytest.fixture(scope="module")
def audited(tmp_path_factory, s3):
    """A server whose audit log goes to moto, with short back-offs for the test."""
    server = start_odoo_server(tmp_path_factory.mktemp("odoo-audit"))
    try:
        admin = Rpc(server, "admin", "admin")
        agent = Rpc(server, "integration", server.api_key)
        settings = admin(
            "res.config.settings",
            "create",
            {
                "ai_quotation_audit_enabled": True,
                "ai_quotation_audit_prefix": PREFIX,
                "ai_quotation_audit_s3_bucket": s3.bucket,
                "ai_quotation_audit_s3_region": "us-east-1",
                "ai_quotation_audit_s3_endpoint_url": s3.url,
                "ai_quotation_audit_s3_access_key_id": s3.access_key[
                    "aws_access_key_id"
                ],
                "ai_quotation_audit_s3_secret_access_key": s3.access_key[
                    "aws_secret_access_key"
                ],
            },
        )
        admin("res.config.settings", "execute", [settings])
        for name, value in [("backoff_seconds", 1), ("backoff_max_seconds", 2)]:
            admin(
                "ir.config_parameter",
                "set_param",
                f"odoo_mcp_quotation.audit_{name}",
                value,
            )
        yield server, admin, agent
    finally:
        stop_odoo_server(server)


def entries_of(admin, task_id):
    return admin(
        "quotation.audit.entry",
        "search_read",
        [("task_id", "=", task_id)],
        fields=["event", "key", "state", "attempts", "error"],
        order="id",
    )


def test_request_and_outcome_reach_s3_after_commit(audited, s3):
    _server, admin, agent = audited
    task_id = agent("quotation.task", "create", task_values(1))
    (task,) = agent("quotation.task", "read", [task_id], ["tracking_id"])
    folder = wait_for(
        lambda: next(
            (
                key.rsplit("/", 1)[0]
                for key in s3.objects(PREFIX)
                if task["tracking_id"] in key
            ),
            None,
        ),
        60,
        "created.json in S3",
    )
    objects = wait_for(
        lambda: (found := s3.objects(folder)) and len(found) == 2 and found,
        90,
        "created.json and done.json in S3",
    )
    assert sorted(key.rsplit("/", 1)[1] for key in objects) == [
        "created.json",
        "done.json",
    ]
    created = json.loads(objects[f"{folder}/created.json"])
    done = json.loads(objects[f"{folder}/done.json"])
    assert created["requested_by"]["login"] == "integration"
    assert created["request"]["lines"] == [{"product": "DESK-STD", "quantity": 2.0}]
    assert done["outcome"]["quotation"]["reference"].startswith("S")
    assert done["outcome"]["quotation"]["amount_untaxed"] == 2 * 520.0
    assert done["processing"]["attempts"] == 1
    states = {entry["state"] for entry in entries_of(admin, task_id)}
    assert states == {"sent"}


def test_outage_keeps_entries_and_recovery_sends_them(audited, s3):
    _server, admin, agent = audited
    s3.stop()
    try:
        task_id = agent("quotation.task", "create", task_values(2))
        pending = wait_for(
            lambda: [
                entry
                for entry in entries_of(admin, task_id)
                if entry["state"] == "pending" and entry["attempts"] >= 1
            ],
            60,
            "a failed sending round recorded on the entries",
        )
        assert "cannot connect" in pending[0]["error"]
    finally:
        s3.start()  # an empty store again: moto keeps nothing across restarts
    # new traffic wakes the sender; the back-off of the kept entries has passed
    agent("quotation.task", "create", task_values(3))
    wait_for(
        lambda: (
            all(e["state"] == "sent" for e in entries_of(admin, task_id))
            and len(entries_of(admin, task_id)) == 2
        ),
        90,
        "the entries kept during the outage sent after recovery",
    )
    keys = [entry["key"] for entry in entries_of(admin, task_id)]
    objects = s3.objects(PREFIX)
    assert all(key in objects for key in keys)


def test_backlog_of_a_thousand_tasks_drains(audited, s3, capsys):
    """Entries piled up while S3 was down go out once it is back."""
    _server, admin, agent = audited
    lanes = admin(
        "ir.cron",
        "search",
        [("code", "=", "model._cron_process_tasks()")],
    )
    admin("ir.cron", "write", lanes, {"active": False})  # measure the log alone
    s3.stop()
    try:
        started = time.monotonic()
        for chunk in range(0, BACKLOG, 250):
            agent(
                "quotation.task",
                "create",
                [task_values(n) for n in range(chunk, chunk + 250)],
            )
        created_in = time.monotonic() - started
    finally:
        s3.start()
    waiting = admin(
        "quotation.audit.entry", "search_count", [("state", "=", "pending")]
    )
    assert waiting >= BACKLOG
    started = time.monotonic()
    admin("quotation.audit.entry", "action_send_now", [])
    wait_for(
        lambda: (
            not admin(
                "quotation.audit.entry", "search_count", [("state", "=", "pending")]
            )
        ),
        300,
        f"{waiting} pending entries sent",
    )
    drained_in = time.monotonic() - started
    assert s3.count(PREFIX) >= BACKLOG
    with capsys.disabled():
        print(
            f"\naudit backlog: {BACKLOG} tasks queued over XML-RPC in "
            f"{created_in:.1f} s; {waiting} entries drained to S3 in "
            f"{drained_in:.1f} s ({waiting / drained_in:.0f} entries/s)"
        )
