"""CPU time per quotation, side by side: the figure that carries to any machine.

    python3 scripts/harness.py bench bench_cpu
    OMQ_BENCH_CPU_COUNT=10 python3 scripts/harness.py bench bench_cpu  # quick
    OMQ_BENCH_PREFER_WAIT=1 python3 scripts/harness.py bench bench_cpu

One real ``odoo-bin --workers 2 --max-cron-threads 2`` on a copy of the
template database. Each lane is measured from /proc (``bench/proc_cpu.py``):
user + system time of the Odoo server's whole process tree (HTTP workers,
cron workers, the master, the workers it reaped) plus the PostgreSQL
backends serving the database, divided by the quotations (or calls) made:

- the in-process floor: the same quotation queued and built by the ORM in one
  ``odoo-bin shell`` (its own process and backends), no HTTP, while the server
  runs: what the server spends meanwhile (Odoo's crons woken by its
  quotations, CRM's lead enrichment) counts too;
- this module over REST (POST, then status until done, at a voice agent's
  pace), one at a time and 10 in flight; over MCP (create_quotation, then
  get_quotation_status), one at a time;
- with ``OMQ_BENCH_PREFER_WAIT=1``, REST again with ``Prefer: wait=3``: a
  server that answers 200 with the quotation spares the polls; one that
  ignores the header answers 202 and the agent polls, as without it;
- the lean XML-RPC driver of the replaced design (``bench/replaced_design.py``);
- a status call against Odoo's ``/web/health``, CPU per call.

Prints the figures, the targets of issue 22 (at most 1.05x the floor and
0.75x the lean driver per quotation; a status call at most 1.5x /web/health;
the one-round-trip path no dearer than today's) and, for any missed, by how
much; then the lanes that a number of free cores needs. Then, from the lanes
one at a time, the way to the spoken reference: the HTTP calls each
quotation took (a 200 done is 1, a 202 then polls is 1 + polls; the MCP
session's opening is the conversation's, not counted), the p50 and p95 wall
time from the request to the answer carrying the reference, beside the
floor's wall time per quotation, and issue 22's targets (1 call, at most
1.3x the floor's p50). A full run (60 quotations each) draws docs/performance-cpu.png.
The bench process's own CPU (the clients) is printed apart, never counted.
"""

import json
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "scripts"))

from helpers import pure_modules  # noqa: E402
from helpers.servers import (  # noqa: E402
    IN_PROCESS_QUOTATION,
    bench_database,
    odoo_shell,
    start_odoo_server,
    stop_odoo_server,
)
from proc_cpu import Meter  # noqa: E402
from replaced_design import ReplacedDesign  # noqa: E402

COUNT = int(os.environ.get("OMQ_BENCH_CPU_COUNT", "60"))
PREFER_WAIT = os.environ.get("OMQ_BENCH_PREFER_WAIT", "") not in ("", "0")
CALLS_PER_QUOTATION = 10  # status calls are cheap: more of them, for the ticks
WARM_UP = 3
IN_FLIGHT = 10
POLL_SECONDS = 0.25  # a voice agent's pace
IDLE_SECONDS = 5
PARAMS = {
    "odoo_mcp_quotation.rate_limit_per_minute": "100000000",
    "odoo_mcp_quotation.rate_limit_per_user_per_minute": "100000000",
}
FLOOR_SCRIPT = """
import json, os, sys, time
sys.path.insert(0, {bench!r})
from proc_cpu import TICK_SECONDS, Meter, read_stats, tree_ticks

for index in range({warm_up}):
    one(index)
meter = Meter(os.getpid(), env.cr.dbname).start()
server_ticks = tree_ticks(read_stats(), {server_pid})
started, walls = time.perf_counter(), []
for index in range({warm_up}, {warm_up} + {count}):
    began = time.perf_counter()
    one(index)
    walls.append(time.perf_counter() - began)
seconds = time.perf_counter() - started
server_ticks = tree_ticks(read_stats(), {server_pid}) - server_ticks
meter.stop()
print("OMQ_FLOOR=" + json.dumps(
    {{"tree": meter.tree + server_ticks * TICK_SECONDS, "postgres": meter.postgres,
      "vanished": meter.vanished, "seconds": seconds, "walls": walls}}))
"""


def quotation(tag, index):
    return {
        "customer_name": f"Bench {tag} {index}",
        "email": f"{tag}{index}@bench.example",
        "lines": [
            {"product": "DESK-STD", "quantity": 1},
            {"product": "CHAIR-ERG", "quantity": 2},
        ],
    }


def percentile(values, share):
    """Nearest rank: the value that ``share`` of ``values`` do not exceed."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


class Lane:
    """What one lane cost: CPU seconds (Odoo tree, PostgreSQL), per unit;
    for a lane one at a time, each quotation's calls and wall time too."""

    def __init__(
        self, name, units, meter, seconds, *, client=0.0, polls=0, journeys=()
    ):
        self.name, self.units, self.seconds = name, units, seconds
        self.tree, self.postgres = meter.tree, meter.postgres
        self.vanished, self.client, self.polls = meter.vanished, client, polls
        self.journeys = list(journeys)  # (HTTP calls, wall seconds) each

    def wall_ms(self, share):
        """Wall time to the answer with the reference, ms, at ``share``."""
        return percentile([wall for _, wall in self.journeys], share) * 1000

    @property
    def per_unit_ms(self):
        return (self.tree + self.postgres) / self.units * 1000

    def ms(self, seconds):
        return seconds / self.units * 1000

    def row(self):
        figures = (self.per_unit_ms, self.ms(self.tree), self.ms(self.postgres))
        return (
            f"{self.name:34} "
            + " ".join(f"{value:7.1f}" for value in figures)
            + f" {self.polls / self.units:6.1f} {self.ms(self.client):7.1f}"
            f" {self.units / self.seconds:7.1f}"
            + (f"  ({self.vanished} backends ended)" if self.vanished else "")
        )


def measured(name, server, units, work):
    """Run ``work()`` (it returns the status polls made) under a meter."""
    meter = Meter(server.process.pid, server.database).start()
    started, client = time.perf_counter(), time.process_time()
    polls = work() or 0
    client, seconds = time.process_time() - client, time.perf_counter() - started
    journeys = getattr(work, "journeys", ())
    lane = Lane(
        name,
        units,
        meter.stop(),
        seconds,
        client=client,
        polls=polls,
        journeys=journeys,
    )
    print(lane.row(), flush=True)
    return lane


def spoken(status):
    """The reference the agent reads aloud: the answer must carry it."""
    if status.get("status") != "done" or not status.get("order_reference"):
        raise RuntimeError(f"no reference to speak: {status}")
    return status["order_reference"]


class RestAgent:
    """A voice agent over REST: POST, then the status until done."""

    def __init__(self, server, prefer_wait=False):
        self.url = server.url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {server.api_key}"
        if prefer_wait:
            self.session.headers["Prefer"] = "wait=3"

    def quotation(self, body):
        """Polls made; none when the POST already carried the quotation."""
        answer = self.session.post(
            f"{self.url}/api/quotation/async",
            json=body,
            headers={"Idempotency-Key": uuid.uuid4().hex},
            timeout=60,
        )
        answer.raise_for_status()
        status, polls = answer.json(), 0
        if answer.status_code == 200:  # Prefer: wait honoured: the quotation
            spoken(status)
            return 0
        status_url = status["status_url"]
        while status["status"] != "done":
            if status["status"] not in ("pending", "processing"):
                raise RuntimeError(status)
            time.sleep(POLL_SECONDS)
            status = self.session.get(status_url, timeout=60).json()
            polls += 1
        spoken(status)
        return polls


class McpAgent:
    """An MCP client (one 2025-11-25 session): create_quotation, then
    get_quotation_status until done."""

    def __init__(self, server):
        self.url = f"{server.url}/mcp"
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {server.api_key}",
                "Accept": "application/json, text/event-stream",
            }
        )
        messages = pure_modules.load("tests.mcp_messages")
        answer = self._post(
            messages.initialize_message(client_name="bench_cpu", request_id=0)
        )
        self.session.headers.update(
            {
                "Mcp-Session-Id": answer.headers["Mcp-Session-Id"],
                "MCP-Protocol-Version": "2025-11-25",
            }
        )

    def _post(self, message):
        response = self.session.post(self.url, json=message, timeout=60)
        response.raise_for_status()
        return response

    def _tool(self, name, arguments):
        message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call"}
        message["params"] = {"name": name, "arguments": arguments}
        result = self._post(message).json()["result"]
        if result.get("isError"):
            raise RuntimeError(result)
        return result["structuredContent"]

    def quotation(self, body):
        status, polls = self._tool("create_quotation", body), 0
        while status["status"] != "done":
            if status["status"] not in ("pending", "processing"):
                raise RuntimeError(status)
            time.sleep(POLL_SECONDS)
            tracking = {"tracking_id": status["tracking_id"]}
            status = {**self._tool("get_quotation_status", tracking), **tracking}
            polls += 1
        spoken(status)
        return polls


def one_at_a_time(agent, tag, count):
    """Polls made; ``work.journeys``: each quotation's HTTP calls (the
    request, then its polls) and wall time to the answer with the reference."""

    def work():
        polls = 0
        for index in range(count):
            started = time.perf_counter()
            made = agent.quotation(quotation(tag, index))
            work.journeys.append((1 + made, time.perf_counter() - started))
            polls += made
        return polls

    work.journeys = []
    return work


def in_flight(agent, tag, count):
    def work():
        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            return sum(
                pool.map(lambda i: agent.quotation(quotation(tag, i)), range(count))
            )

    return work


def calls(session, url, count):
    def work():
        for _ in range(count):
            session.get(url, timeout=30).raise_for_status()

    return work


def floor(server, count):
    """The floor, measured while ``server`` runs: what Odoo's cron workers do
    because of its quotations (CRM's lead enrichment is woken by every new
    lead) counts, as it does in the lanes over HTTP; its own tasks wake no
    cron of this queue, as when the HTTP worker that answers builds them."""
    script = IN_PROCESS_QUOTATION + FLOOR_SCRIPT.format(
        bench=str(BENCH), count=count, warm_up=WARM_UP, server_pid=server.process.pid
    )
    database = server.database
    figures = json.loads(odoo_shell(database, script)["FLOOR"])
    meter = Meter(
        0, database, figures["tree"], figures["postgres"], figures["vanished"]
    )
    lane = Lane(
        "in-process floor (ORM, no HTTP)",
        count,
        meter,
        figures["seconds"],
        journeys=[(0, wall) for wall in figures["walls"]],
    )
    print(lane.row(), flush=True)
    return lane


def measure(tmp):
    print("starting odoo-bin (crons off) to copy the database...", flush=True)
    database, api_key = bench_database(tmp, PARAMS)
    header = (
        f"{'lane':34} {'CPU ms':>7} {'odoo':>7} {'pg':>7} {'polls':>6}"
        f" {'client':>7} {'per s':>7}"
    )
    print(f"\nCPU per quotation (or call), {COUNT} quotations a lane\n{header}")
    server = start_odoo_server(tmp, database=database)
    server.api_key = api_key  # a restart: the key made on the first start
    try:
        lanes = {"floor": floor(server, COUNT)}
        rest = RestAgent(server)
        mcp = McpAgent(server)
        driver = ReplacedDesign(server.url, database, "integration", server.api_key, 1)
        for index in range(WARM_UP):  # every worker's caches, every path
            rest.quotation(quotation("warm", index))
            mcp.quotation(quotation("warmmcp", index))
            driver.wait(driver.submit(quotation("warmold", index)))
        idle = Meter(server.process.pid, database).start()
        time.sleep(IDLE_SECONDS)
        idle.stop()
        plan = [
            ("rest", "REST, one at a time", one_at_a_time(rest, "rest", COUNT)),
            ("rest10", f"REST, {IN_FLIGHT} in flight", in_flight(rest, "r10", COUNT)),
            ("mcp", "MCP, one at a time", one_at_a_time(mcp, "mcp", COUNT)),
        ]
        if PREFER_WAIT:
            waiting = RestAgent(server, prefer_wait=True)
            waiting.quotation(quotation("warmwait", 0))
            plan += [
                (
                    "wait",
                    "REST Prefer: wait=3, one at a time",
                    one_at_a_time(waiting, "wait", COUNT),
                ),
                (
                    "wait10",
                    f"REST Prefer: wait=3, {IN_FLIGHT} in flight",
                    in_flight(waiting, "wait10", COUNT),
                ),
            ]

        def lean():
            for index in range(COUNT):
                driver.wait(driver.submit(quotation("old", index)))

        plan.append(("lean", "lean XML-RPC driver (replaced)", lean))
        for key, name, work in plan:
            lanes[key] = measured(name, server, COUNT, work)
        tracking_id = requests.post(
            f"{server.url}/api/quotation/async",
            json=quotation("status", 0),
            headers={"Authorization": f"Bearer {server.api_key}"},
            timeout=60,
        ).json()["tracking_id"]
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {server.api_key}"
        many = COUNT * CALLS_PER_QUOTATION
        health_url, status_url = (
            f"{server.url}/web/health",
            (f"{server.url}/api/quotation/status/{tracking_id}"),
        )
        calls(session, status_url, 20)()
        lanes["health"] = measured(
            "GET /web/health, per call", server, many, calls(session, health_url, many)
        )
        lanes["status"] = measured(
            "GET status, per call", server, many, calls(session, status_url, many)
        )
    finally:
        stop_odoo_server(server)
    print(
        f"(idle server: {idle.total / IDLE_SECONDS * 1000:.1f} ms CPU a second, in"
        " every lane; 'client' is the bench's own CPU, not counted)"
    )
    return lanes


def ratio_line(label, value, yardstick, limit, why=""):
    ratio = value / yardstick
    if ratio <= limit:
        return f"  {label:54} {ratio:5.2f}x  target {limit:.2f}x  met"
    allowed = limit * yardstick
    return (
        f"  {label:54} {ratio:5.2f}x  target {limit:.2f}x  missed by"
        f" {ratio / limit - 1:.0%}: {value - allowed:.1f} ms over the"
        f" {allowed:.1f} ms allowed{why}"
    )


def report_answer(lanes):
    """Issue 22: tool calls to the spoken reference on an idle server, and
    the wall time to it beside the floor's wall time per quotation."""
    floor = lanes["floor"]
    print(
        "\nto the spoken reference, one at a time on an idle server (wall time"
        " from the request to the answer carrying the reference; calls: HTTP"
        " calls the agent made, a 200 done = 1, a 202 + polls = 1 + polls)"
    )
    print(
        f"  {'lane':36} {'calls':>5} {'in 1 call':>10} {'p50 ms':>7}"
        f" {'p95 ms':>7} {'p50/floor':>9} {'p95/floor':>9}"
    )
    floor_p50, floor_p95 = floor.wall_ms(0.5), floor.wall_ms(0.95)
    print(
        f"  {floor.name:36} {'-':>5} {'-':>10} {floor_p50:7.1f} {floor_p95:7.1f}"
        f"   (mean {floor.seconds / floor.units * 1000:.1f} ms a quotation)"
    )
    keys = [key for key in ("rest", "wait", "mcp") if key in lanes]
    for key in keys:
        lane = lanes[key]
        calls = [made for made, _ in lane.journeys]
        single = sum(1 for made in calls if made == 1)
        print(
            f"  {lane.name:36} {sum(calls) / len(calls):5.2f}"
            f" {f'{single} of {len(calls)}':>10} {lane.wall_ms(0.5):7.1f}"
            f" {lane.wall_ms(0.95):7.1f} {lane.wall_ms(0.5) / floor_p50:8.2f}x"
            f" {lane.wall_ms(0.95) / floor_p95:8.2f}x"
        )
    print("\ntargets (to the spoken reference, same run):")
    for key in keys:
        if key == "rest":
            continue  # today's path, printed above for comparison
        lane = lanes[key]
        calls = [made for made, _ in lane.journeys]
        more = [made for made in calls if made > 1]
        verdict = (
            "met"
            if not more
            else f"missed: {len(more)} of {len(calls)} took {min(more)} to"
            f" {max(more)} calls (a 202, then polls)"
        )
        print(f"  {f'tool calls, {lane.name}':54} target 1  {verdict}")
        print(
            ratio_line(
                f"p50 wall, {lane.name} / floor",
                lane.wall_ms(0.5),
                floor_p50,
                1.3,
                "; beyond the floor's build: the HTTP round trip, the key's"
                " check and the task committed before it is built"
                + (f", and {len(more)} polled answers" if more else ""),
            )
        )


def report(lanes):
    floor, lean = lanes["floor"], lanes["lean"]
    status_ms = lanes["status"].per_unit_ms
    print("\ntargets (CPU, same run):")
    for key in ("rest", "rest10", "mcp", "wait", "wait10"):
        if key not in lanes:
            continue
        lane = lanes[key]
        polls = lane.polls / lane.units
        value = lane.per_unit_ms
        for yardstick, limit in ((floor, 1.05), (lean, 0.75)):
            # where the difference lies: in Odoo's processes or in PostgreSQL
            why = (
                f"; Odoo {lane.ms(lane.tree):.1f} + PostgreSQL"
                f" {lane.ms(lane.postgres):.1f} ms against"
                f" {yardstick.ms(yardstick.tree):.1f} +"
                f" {yardstick.ms(yardstick.postgres):.1f} ms"
            )
            if polls:
                why += (
                    f", of it the status polls, about {polls:.1f} x {status_ms:.1f} ms"
                )
            label = f"{lane.name} / {'floor' if yardstick is floor else 'lean driver'}"
            print(ratio_line(label, value, yardstick.per_unit_ms, limit, why))
    if "wait" in lanes:  # the one-round-trip path, against today's
        print(
            ratio_line(
                "REST Prefer: wait=3 / REST without it",
                lanes["wait"].per_unit_ms,
                lanes["rest"].per_unit_ms,
                1.0,
                "; what it adds: a build thread and a worker slot taken and given"
                " back (advisory locks), against the status polls it spares",
            )
        )
    print(
        ratio_line(
            "status call / /web/health",
            status_ms,
            lanes["health"].per_unit_ms,
            1.5,
            "; the key's check, the rate-limit count, the task read, the commit",
        )
    )
    busy = floor.seconds / (floor.tree + floor.postgres)  # wall per CPU second
    ours = lanes["rest"].per_unit_ms
    print(
        f"\nthroughput on C free cores ~ C / {ours:.1f} ms (REST, one at a time),"
        " if there are lanes enough: a build is Odoo then PostgreSQL in turn, one"
        " lane keeps about one core busy; this run's floor spent"
        f" {busy:.2f} s of wall time per CPU second (above 1: waiting for a core"
        " on a loaded machine, or for I/O)"
    )
    print(f"  {'cores':>5} {'quotations/s':>13} {'lanes':>6} {'at this run':>12}")
    for cores in (1, 2, 4, 8, 16):
        print(
            f"  {cores:5} {cores / ours * 1000:13.1f} {cores:6}"
            f" {math.ceil(cores * max(1.0, busy)):12}"
        )
    print(
        "  lanes: cron workers (--max-cron-threads), and the HTTP worker that"
        " builds after answering when the queue is idle"
    )


def draw(lanes):
    """docs/performance-cpu.png: CPU per quotation and per call."""
    names = {
        "floor": "in-process floor",
        "rest": "REST, one at a time",
        "rest10": f"REST, {IN_FLIGHT} in flight",
        "mcp": "MCP, one at a time",
        "wait": "REST Prefer: wait=3",
        "wait10": f"REST wait=3, {IN_FLIGHT} in flight",
        "lean": "lean XML-RPC driver",
    }
    panels = {
        "CPU per quotation (ms, Odoo + PostgreSQL)": {
            label: lanes[key].per_unit_ms
            for key, label in names.items()
            if key in lanes
        },
        "CPU per call (ms)": {
            "/web/health": lanes["health"].per_unit_ms,
            "quotation status": lanes["status"].per_unit_ms,
        },
    }
    output = REPO / "docs" / "performance-cpu.png"
    subprocess.run(
        [os.environ["OMQ_VENV_PLOT"], str(BENCH / "plot.py"), str(output)],
        input=json.dumps(panels),
        text=True,
        check=True,
    )
    print(f"\nplot: {output.relative_to(REPO)}")


def main():
    lanes = measure(Path(tempfile.mkdtemp(prefix="omq-bench-cpu-")))
    report(lanes)
    report_answer(lanes)
    if COUNT >= 60:
        draw(lanes)


if __name__ == "__main__":
    main()
