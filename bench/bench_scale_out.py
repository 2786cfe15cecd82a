"""Quotations end to end, one and two servers, bursts through the proxy.

    python3 scripts/harness.py bench bench_scale_out

Real ``odoo-bin --workers 2 --max-cron-threads 2`` servers on one copy of the
template database, measured side by side in one run:

- the floor: the same quotation queued and built in one process (odoo shell),
  no HTTP, no cron wake-up;
- this module end to end (POST, then status until done), one at a time and
  10 in flight, and the replaced design (bench/replaced_design.py) the same;
  each side's first three quotations dropped as warm-up;
- the wait from a task's creation to the start of its processing, from the
  tasks' own timestamps;
- the durable enqueue (POST) against Odoo's /web/health at 10 connections,
  crons running;
- 10 in flight over two servers against one;
- bursts of 100 and 300 simultaneous connections, straight to a server and
  through nginx with deploy/nginx/odoo_mcp_quotation.conf.

Prints one table with the ratios and draws docs/performance.png (matplotlib,
from its own virtualenv: tests/venvs/plot.txt).
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "scripts"))

import harness  # noqa: E402
from helpers.servers import (  # noqa: E402
    IN_PROCESS_QUOTATION,
    bench_database,
    burst,
    odoo_shell,
    start_nginx,
    start_odoo_server,
    stop_odoo_server,
    stop_process,
)
from loadgen import run  # noqa: E402
from replaced_design import ReplacedDesign  # noqa: E402

PARAMS = {
    "odoo_mcp_quotation.rate_limit_per_minute": "100000000",
    "odoo_mcp_quotation.rate_limit_per_user_per_minute": "100000000",
}
ONE_AT_A_TIME = 20
# the first quotations of each side are dropped: the floor's run on a database
# just copied (PostgreSQL's buffers cold) in a new process, this module's on
# HTTP workers whose caches are still empty, the replaced design's likewise
WARM_UP = 3
IN_FLIGHT, IN_FLIGHT_TOTAL = 10, 30
POLL_SECONDS = 0.01  # one agent alone: fine enough to time a call
# agents in flight ask at a voice agent's pace: ten asking every 10 ms would
# spend the two cores on status answers and starve the cron workers they wait for
IN_FLIGHT_POLL_SECONDS = 0.25
FLOOR_SCRIPT = """
import json, time
seconds = []
for index in range({warm_up} + {count}):
    started = time.perf_counter()
    one(index)
    if index >= {warm_up}:
        seconds.append(time.perf_counter() - started)
print("OMQ_FLOOR=" + json.dumps(seconds))
"""


def add(rows, row):
    """A row of the table, printed at once: a long run shows what it has."""
    what, value, yardstick, ratio = row
    against = "" if yardstick is None else f" against {yardstick:,.1f}"
    print(f"  {what}: {value:,.1f}{against}, {ratio}", flush=True)
    rows.append(row)


def quotation(tag):
    def body(index):
        return {
            "customer_name": f"Bench {tag} {index}",
            "email": f"{tag}{index}@bench.example",
            "lines": [
                {"product": "DESK-STD", "quantity": 1},
                {"product": "CHAIR-ERG", "quantity": 2},
            ],
        }

    return body


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# ---------------------------------------------------------------- this module
# one quotation as an agent lived it: seconds from POST to seeing done, and
# when (epoch, this machine's clock, as PostgreSQL's) it posted, had the
# answer and saw done
Trip = namedtuple("Trip", "seconds tracking_id posted answered seen")


class Agent:
    """A voice agent: POST the request, then ask for its status until done.

    As a real agent does, it asks again after a dropped connection or an
    answer that is not JSON, the POST with the same Idempotency-Key.
    """

    def __init__(self, url, api_key, poll=POLL_SECONDS):
        self.url = url
        self.poll = poll
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {api_key}"

    def _call(self, method, url, **kwargs):
        for attempt in range(5):
            try:
                return self.session.request(method, url, timeout=60, **kwargs).json()
            except (requests.ConnectionError, ValueError):
                time.sleep(0.2 * (attempt + 1))
        raise RuntimeError(f"{method} {url}: no answer after 5 tries")

    def quotation(self, body):
        started, posted = time.perf_counter(), time.time()
        queued = self._call(
            "POST",
            f"{self.url}/api/quotation/async",
            json=body,
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        answered = time.time()
        while True:
            status = self._call("GET", queued["status_url"])
            if status["status"] == "done":
                return Trip(
                    time.perf_counter() - started,
                    queued["tracking_id"],
                    posted,
                    answered,
                    time.time(),
                )
            if status["status"] not in ("pending", "processing"):
                raise RuntimeError(status)
            time.sleep(self.poll)


def in_flight(agents, body, total):
    """Quotations per second with ``IN_FLIGHT`` agents over ``agents`` servers."""
    started = time.perf_counter()
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        results = list(
            pool.map(lambda i: agents[i % len(agents)].quotation(body(i)), range(total))
        )
    return total / (time.perf_counter() - started), [
        trip.tracking_id for trip in results
    ]


def replaced_in_flight(design, body, total):
    started = time.perf_counter()
    ids = [design.submit(body(index)) for index in range(total)]
    for tracking_id in ids:
        design.wait(tracking_id)
    return total / (time.perf_counter() - started)


def floor(database, count):
    """One process queues and builds each quotation: no HTTP, no wake-up."""
    script = IN_PROCESS_QUOTATION + FLOOR_SCRIPT.format(count=count, warm_up=WARM_UP)
    return json.loads(odoo_shell(database, script)["FLOOR"])


def where_time_goes(database, trips):
    """Where a lone quotation's time goes, p50 in ms: the agent's clock and
    the task's own timestamps (one machine): the POST answered, from the
    answer to the start of processing, the build (started to done), from done
    to the poll that saw it (the build's commit, then the next poll)."""
    with harness.pg_connect(database) as connection, connection.cursor() as cr:
        cr.execute(
            "SELECT tracking_id, extract(epoch FROM started_at),"
            " extract(epoch FROM done_at) FROM quotation_task"
            " WHERE tracking_id = ANY(%s)",
            [[trip.tracking_id for trip in trips]],
        )
        stamps = {row[0]: (float(row[1]), float(row[2])) for row in cr.fetchall()}
    steps = {"answered": [], "start": [], "build": [], "seen": []}
    for trip in trips:
        started, done = stamps[trip.tracking_id]
        steps["answered"].append(trip.answered - trip.posted)
        steps["start"].append(started - trip.answered)
        steps["build"].append(done - started)
        steps["seen"].append(trip.seen - done)
    return {name: statistics.median(values) * 1000 for name, values in steps.items()}


def waits(database, tracking_ids):
    """Creation to start of processing, from the tasks' own timestamps (s)."""
    with harness.pg_connect(database) as connection, connection.cursor() as cr:
        cr.execute(
            "SELECT extract(epoch FROM started_at - create_date) FROM quotation_task "
            "WHERE tracking_id = ANY(%s)",
            [list(tracking_ids)],
        )
        return [float(row[0]) for row in cr.fetchall()]


def lost(url, count, api_key, tag):
    """Requests of a burst not answered 202 (refused, reset, 502...)."""
    answers = burst(
        url,
        "/api/quotation/async",
        [quotation(tag)(index) for index in range(count)],
        {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )
    return sum(1 for status, _body in answers if status != 202)


def measure_one_server(url, database, api_key, floor_p50, rows):
    """This module against the floor and the replaced design; its rate."""
    agent = Agent(url, api_key)
    design = ReplacedDesign(url, database, "integration", api_key, IN_FLIGHT)
    for index in range(WARM_UP):
        agent.quotation(quotation("warm")(index))
        design.wait(design.submit(quotation("warmx")(index)))

    print("one at a time...", flush=True)
    ours = [agent.quotation(quotation("one")(i)) for i in range(ONE_AT_A_TIME)]
    ours_p50 = statistics.median(trip.seconds for trip in ours)
    old = [
        design.wait(design.submit(quotation("oldone")(i))) for i in range(ONE_AT_A_TIME)
    ]
    old_p50 = statistics.median(old)
    add(
        rows,
        (
            "POST to done, one at a time, p50 (ms)",
            ours_p50 * 1000,
            old_p50 * 1000,
            f"{ours_p50 / old_p50:.2f}x the replaced design",
        ),
    )
    add(
        rows,
        (
            "the same quotation in-process, the floor, p50 (ms)",
            floor_p50 * 1000,
            None,
            f"this module {ours_p50 / floor_p50:.2f}x the floor",
        ),
    )

    steps = where_time_goes(database, ours)
    add(
        rows,
        (
            "one at a time: POST answered, p50 (ms)",
            steps["answered"],
            None,
            "then to the start of processing {start:.1f}, the build {build:.1f}, "
            "done to seen by the agent {seen:.1f} (p50, ms)".format(**steps),
        ),
    )

    print(f"{IN_FLIGHT} in flight...", flush=True)
    paced = Agent(url, api_key, poll=IN_FLIGHT_POLL_SECONDS)
    rate1, ids = in_flight([paced], quotation("ten"), IN_FLIGHT_TOTAL)
    old_rate = replaced_in_flight(design, quotation("oldten"), IN_FLIGHT_TOTAL)
    add(
        rows,
        (
            f"{IN_FLIGHT_TOTAL} quotations, {IN_FLIGHT} in flight (/s)",
            rate1,
            old_rate,
            f"{rate1 / old_rate:.1f}x replaced",
        ),
    )
    wait = waits(database, [trip.tracking_id for trip in ours] + ids)
    add(
        rows,
        (
            "creation to start of processing, p50 / p99 (ms)",
            percentile(wait, 50) * 1000,
            percentile(wait, 99) * 1000,
            "p50 | p99 (from the tasks' timestamps)",
        ),
    )

    auth = {
        "Authorization": f"Bearer {api_key}",
        "Content-Type": "application/json",
    }
    print("durable enqueue against /web/health...", flush=True)
    health = run("health", f"{url}/web/health", requests=400, concurrency=10)
    post = run(
        "post",
        f"{url}/api/quotation/async",
        requests=400,
        concurrency=10,
        method="POST",
        body=quotation("enqueue"),
        headers=auth,
    )
    add(
        rows,
        (
            "durable enqueue, 10 connections, crons on (req/s)",
            post.rps,
            health.rps,
            f"{post.rps / health.rps:.2f}x /web/health",
        ),
    )
    drained = drain(database)
    add(rows, ("the enqueued backlog drained (/s)", drained, None, "one server"))
    return rate1


def drain(database):
    """Tasks built per second until none is pending or processing, so that
    what is measured next does not wait behind the enqueue's backlog."""
    connection = harness.pg_connect(database)
    started, first = time.perf_counter(), None
    try:
        with connection.cursor() as cursor:
            while True:
                cursor.execute(
                    "SELECT count(*) FROM quotation_task"
                    " WHERE state IN ('pending', 'processing')"
                )
                left = cursor.fetchone()[0]
                first = left if first is None else first
                if not left:
                    break
                print(f"  draining the backlog: {left} tasks left", flush=True)
                time.sleep(5)
    finally:
        connection.close()
    return first / (time.perf_counter() - started) if first else 0.0


def main():
    tmp = Path(tempfile.mkdtemp(prefix="omq-bench-"))
    rows = []  # (what, this module, yardstick, ratio text)
    print("starting odoo-bin (crons off) for the in-process floor...", flush=True)
    database, api_key = bench_database(tmp, PARAMS)
    floor_p50 = statistics.median(floor(database, ONE_AT_A_TIME))
    print("floor measured; serving the database with crons on...", flush=True)

    servers = [start_odoo_server(tmp, database=database)]
    proxy = None
    try:
        rate1 = measure_one_server(servers[0].url, database, api_key, floor_p50, rows)

        print("a second server...", flush=True)
        servers.append(start_odoo_server(tmp, database=database))
        agents = [
            Agent(server.url, api_key, poll=IN_FLIGHT_POLL_SECONDS)
            for server in servers
        ]
        for index in range(4):  # the new server's workers load their registry
            agents[1].quotation(quotation("warm2")(index))
        rate2, _ids = in_flight(agents, quotation("two"), IN_FLIGHT_TOTAL)
        add(
            rows,
            (
                f"{IN_FLIGHT} in flight, 2 servers vs 1 (/s)",
                rate2,
                rate1,
                f"{rate2 / rate1:.2f}x one server",
            ),
        )

        print("bursts, straight and through nginx...", flush=True)
        proxy = start_nginx(tmp, servers)
        for count in (100, 300):
            direct = lost(servers[0].url, count, api_key, f"direct{count}")
            proxied = lost(proxy.url, count, api_key, f"proxy{count}")
            add(
                rows,
                (
                    f"{count} POSTs on {count} simultaneous connections, lost",
                    proxied,
                    direct,
                    "through nginx | straight to one server",
                ),
            )
    finally:
        if proxy:
            stop_process(proxy.process)
        for server in reversed(servers):
            stop_odoo_server(server, drop=server is servers[0])

    print("\n| | this module | yardstick | |\n| --- | ---: | ---: | --- |")
    for what, value, yardstick, ratio in rows:
        shown = "" if yardstick is None else f"{yardstick:,.1f}"
        print(f"| {what} | {value:,.1f} | {shown} | {ratio} |")
    draw(rows)


def draw(rows):
    """docs/performance.png: the latencies and the rates of the table."""
    figures = {what: (value, yardstick) for what, value, yardstick, _ratio in rows}
    one = figures["POST to done, one at a time, p50 (ms)"]
    rates = figures[f"{IN_FLIGHT_TOTAL} quotations, {IN_FLIGHT} in flight (/s)"]
    two = figures[f"{IN_FLIGHT} in flight, 2 servers vs 1 (/s)"]
    enqueue = figures["durable enqueue, 10 connections, crons on (req/s)"]
    panels = {
        "POST to done, one at a time, p50 (ms)": {
            "in-process floor": figures[
                "the same quotation in-process, the floor, p50 (ms)"
            ][0],
            "this module": one[0],
            "replaced design": one[1],
        },
        f"{IN_FLIGHT} in flight (quotations/s)": {
            "this module, 2 servers": two[0],
            "this module, 1 server": rates[0],
            "replaced design": rates[1],
        },
        "10 connections, crons on (req/s)": {
            "/web/health": enqueue[1],
            "POST (durable enqueue)": enqueue[0],
        },
    }
    output = REPO / "docs" / "performance.png"
    subprocess.run(
        [os.environ["OMQ_VENV_PLOT"], str(REPO / "bench" / "plot.py"), str(output)],
        input=json.dumps(panels),
        text=True,
        check=True,
    )
    print(f"\nplot: {output.relative_to(REPO)}")


if __name__ == "__main__":
    main()
