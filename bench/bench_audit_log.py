"""Audit log figures, measured side by side in one run against moto on loopback.

    python3 scripts/harness.py test -- bench/bench_audit_log.py -s

1. What the outbox costs the request that creates a task: 300 tasks created
   one by one (a savepoint each, as REST calls make one transaction each),
   log off and on in alternating blocks.
2. How fast a 1,000-entry backlog drains through ``_process_due`` (the cron's
   batch), uploads one at a time then 8 in parallel, against raw boto3
   ``put_object`` loops on the same server: the ceiling.

Everything runs in one transaction on the harness's throw-away database and is
rolled back; it stops by itself.
"""

import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tests.common import get_db_name

from odoo.addons.odoo_mcp_quotation.lib.audit_store import S3Destination
from odoo.addons.odoo_mcp_quotation.tests.s3_server import S3TestServer

CREATED = 300
BACKLOG = 1000
PARAM = "odoo_mcp_quotation.audit_"


def task_values(index):
    return {
        "customer_name": f"Bench Customer {index}",
        "email": f"bench{index}@example.com",
        "request_payload": {"customer_name": f"Bench Customer {index}"},
        "line_ids": [(0, 0, {"product_ref": "BENCH", "quantity": 2})],
    }


def raw_puts_per_second(s3, concurrency, count=BACKLOG):
    destination = S3Destination(
        s3.bucket,
        region="us-east-1",
        endpoint_url=s3.url,
        access_key_id="bench",
        secret_access_key="bench",
        max_connections=concurrency,
    )
    body = json.dumps({"padding": "x" * 1800}).encode()  # a typical document
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(
            pool.map(
                lambda n: destination.put(f"raw-{concurrency}/{n}.json", body),
                range(count),
            )
        )
    return count / (time.perf_counter() - started)


def creation_ms(env, count=CREATED, block=25):
    """Median ms per task created in its own savepoint, log off and on.

    Off and on alternate in blocks so that load from other processes on the
    machine weighs on both sides alike.
    """
    Task = env["quotation.task"]
    timings = {"": [], "True": []}
    for first in range(0, count, block):
        for enabled, samples in timings.items():
            env["ir.config_parameter"].set_param(PARAM + "enabled", enabled)
            for index in range(first, first + block):
                started = time.perf_counter()
                with env.cr.savepoint():
                    Task.create(task_values(index))
                    env.flush_all()
                samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings[""]), statistics.median(timings["True"])


def drain_per_second(env, concurrency):
    env["ir.config_parameter"].set_param(PARAM + "concurrency", concurrency)
    Entry = env["quotation.audit.entry"]
    env["quotation.task"].create([task_values(n) for n in range(BACKLOG)])
    waiting = Entry.search_count([("state", "=", "pending")])
    started = time.perf_counter()
    while Entry._process_due():
        pass
    elapsed = time.perf_counter() - started
    assert not Entry.search_count([("state", "=", "pending")])
    return waiting / elapsed


def test_audit_log_figures(capsys):
    with S3TestServer() as s3, Registry(get_db_name()).cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        params = env["ir.config_parameter"]
        for name, value in {
            "prefix": "bench",
            "s3_bucket": s3.bucket,
            "s3_region": "us-east-1",
            "s3_endpoint_url": s3.url,
            "s3_access_key_id": "bench",
            "s3_secret_access_key": "bench",
        }.items():
            params.set_param(PARAM + name, value)
        off, on = creation_ms(env)
        params.set_param(PARAM + "enabled", "True")
        raw = {c: raw_puts_per_second(s3, c) for c in (1, 8)}
        drain = {c: drain_per_second(env, c) for c in (1, 8)}
        cr.rollback()
    with capsys.disabled():
        print(
            f"""
audit log bench ({BACKLOG} entries, moto on loopback, 2 cores)
  task creation, median of {CREATED}: log off {off:.1f} ms, on {on:.1f} ms \
(x{on / off:.2f}, +{on - off:.1f} ms per task)
  raw boto3 put_object:   1 at a time {raw[1]:.0f}/s, 8 in parallel {raw[8]:.0f}/s
  _process_due batches:   1 at a time {drain[1]:.0f}/s, 8 in parallel {drain[8]:.0f}/s
  uploader / raw boto3:   x{drain[1] / raw[1]:.2f} sequential, \
x{drain[8] / raw[8]:.2f} parallel; parallel / sequential x{drain[8] / drain[1]:.2f}
"""
        )
