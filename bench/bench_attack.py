#!/usr/bin/env python3
"""Target under attack: the OAuth doors open to anyone, hammered, while a voice
agent keeps working.

One real ``odoo-bin --workers 2`` (crons off, proxy mode) and a hostile HTTPS
server on loopback whose documents trickle, never finish their TLS handshake,
or are gzip bombs. A probe measures a voice agent's ``POST
/api/quotation/async`` and Odoo's own ``/web/health`` while the server is
idle, then during each attack, in the same run:

- ``paced``: 50 anonymous clients, one request a second each, in turn
  authorize, token, revoke (``client_id`` pointing at the hostile server) and
  registration (from random IPv4 addresses and IPv6 /64s, X-Forwarded-For);
- ``flood``: the same 50 clients without a pause (closed loop);
- ``logged-in``: 50 clients sharing a logged-in user's session, paced, each
  an authorization request for a hostile document (the only way to make
  Odoo fetch one);
- ``control`` and ``control flood``: the same 50 clients sending Odoo's own
  ``GET /web/health`` at the same pace, the yardstick of what any 50 clients
  cost, whatever door they knock at.

Printed: p99 of each probed request against its idle p99 (target at most
2x; the control's ratio beside it), each worker's peak memory (target: at
most 64 MiB above idle), the rows each OAuth table grew by (clients: at most
the registration budget, 200, in any minute; grants and tokens: none), and
for a target missed, by how much and why.

    python3 scripts/harness.py bench bench_attack
"""

import argparse
import http.client
import json
import random
import re
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import harness
from helpers.hostile_https import HostileHttpsServer
from helpers.oauth_client import Connector, pkce
from helpers.servers import start_odoo_server, stop_odoo_server

CLIENTS = 50
RATIO_TARGET = 2.0
MEMORY_TARGET_MIB = 64
REGISTRATIONS_PER_MINUTE_TOTAL = 200
TABLES = ("mcp_oauth_client", "mcp_oauth_grant", "mcp_oauth_token")
COUNTER_TABLE = "quotation_rate_limit"
HOSTILE_PATHS = ("/trickle.json", "/gzip.json", "/chunked.json", "/slow-body.json")


# ---------------------------------------------------------------- requests
def send(url, method="GET", body=None, headers=None, timeout=60):
    """``(status, seconds)`` of one request on a fresh connection."""
    parts = urlsplit(url)
    started = time.perf_counter()
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    except (OSError, http.client.HTTPException) as error:
        return type(error).__name__, time.perf_counter() - started
    finally:
        connection.close()


def random_address():
    """An IPv4 address or an address of a random IPv6 /64."""
    if random.random() < 0.5:
        return "10." + ".".join(str(random.randrange(1, 255)) for _ in range(3))
    return f"2001:db8:{random.randrange(65536):x}:{random.randrange(65536):x}::1"


class Attack:
    """``CLIENTS`` threads sending hostile requests until stopped."""

    def __init__(self, server, hostile, *, paced, cookie=None, control=False):
        self.server, self.hostile = server, hostile
        self.paced, self.cookie, self.control = paced, cookie, control
        self.stop = threading.Event()
        self.statuses = {}
        self.lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self.client, args=(n,), daemon=True)
            for n in range(CLIENTS)
        ]

    def hostile_url(self):
        path = random.choice(HOSTILE_PATHS)
        return f"{self.hostile.url}{path}?{random.getrandbits(64):x}"

    def authorize(self):
        query = {
            "response_type": "code",
            "client_id": self.hostile_url(),
            "redirect_uri": "http://127.0.0.1:33418/callback",
            "code_challenge": pkce()[1],
            "code_challenge_method": "S256",
            "state": "x",
        }
        headers = {"Cookie": self.cookie} if self.cookie else {}
        return send(
            f"{self.server.url}/oauth/authorize?{urlencode(query)}", headers=headers
        )

    def token(self):
        body = urlencode(
            {
                "grant_type": "authorization_code",
                "code": "x",
                "client_id": self.hostile_url(),
            }
        )
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        return send(f"{self.server.url}/oauth/token", "POST", body, form)

    def revoke(self):
        body = urlencode({"token": "omqr_x", "client_id": self.hostile_url()})
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        return send(f"{self.server.url}/oauth/revoke", "POST", body, form)

    def register(self):
        body = json.dumps(
            {
                "client_name": "attacker",
                "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
                "token_endpoint_auth_method": "none",
            }
        )
        headers = {
            "Content-Type": "application/json",
            "X-Forwarded-For": random_address(),
            "X-Forwarded-Host": urlsplit(self.server.url).netloc,
        }
        return send(f"{self.server.url}/oauth/register", "POST", body, headers)

    def health(self):
        return send(f"{self.server.url}/web/health")

    def client(self, number):
        if self.control:
            kinds = [self.health]
        elif self.cookie:
            kinds = [self.authorize]
        else:
            kinds = [self.authorize, self.token, self.revoke, self.register]
        turn = number
        if self.paced:  # out of step with one another, as strangers are
            self.stop.wait(random.uniform(0, 1))
        while not self.stop.is_set():
            started = time.monotonic()
            kind = kinds[turn % len(kinds)]
            status, _seconds = kind()
            turn += 1
            with self.lock:
                key = f"{kind.__name__} {status}"
                self.statuses[key] = self.statuses.get(key, 0) + 1
            if self.paced:  # one a second on average
                pause = random.uniform(0.5, 1.5) - (time.monotonic() - started)
                self.stop.wait(max(0.0, pause))

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=90)


# ---------------------------------------------------------------- measures
def probe(server, seconds, memory):
    """A voice agent and a load balancer, side by side, for ``seconds``:
    ``{name: [seconds, ...]}``, each request every 0.1 s."""
    agent = {
        "Authorization": f"Bearer {server.api_key}",
        "Content-Type": "application/json",
    }
    body = json.dumps(
        {
            "customer_name": "Probe Customer",
            "email": "probe@example.com",
            "lines": [{"product": "DESK-STD", "quantity": 1}],
        }
    )
    timings = {"GET /web/health": [], "POST /api/quotation/async": []}
    failures = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for name, (method, path, data, headers) in {
            "GET /web/health": ("GET", "/web/health", None, {}),
            "POST /api/quotation/async": ("POST", "/api/quotation/async", body, agent),
        }.items():
            status, elapsed = send(server.url + path, method, data, headers)
            if status not in (200, 202):
                failures.append((name, status))
            timings[name].append(elapsed)
        memory.sample()
        time.sleep(0.1)
    return timings, failures


def p99(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


class WorkerMemory:
    """The resident memory of each of the server's worker processes."""

    def __init__(self, server):
        self.master = server.process.pid
        self.peak = {}

    def pids(self):
        path = Path(f"/proc/{self.master}/task/{self.master}/children")
        return [int(pid) for pid in path.read_text().split()]

    def sample(self):
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            rss = int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024
            self.peak[pid] = max(self.peak.get(pid, 0), rss)

    def reset(self):
        peak, self.peak = self.peak, {}
        return peak


def busiest_minute(server, since):
    """The most clients created within any minute since ``since`` (database
    time). The rate limit counts whole seconds, so its minute is 59 to 60 s
    long: measured over 59 s."""
    with harness.pg_connect(server.database) as connection:
        cursor = connection.cursor()
        cursor.execute(
            """
            SELECT coalesce(max(n), 0) FROM (
                SELECT count(*) OVER (
                    ORDER BY create_date
                    RANGE BETWEEN interval '59 seconds' PRECEDING AND CURRENT ROW
                ) AS n
                FROM mcp_oauth_client WHERE create_date >= %s
            ) windows
            """,
            [since],
        )
        return cursor.fetchone()[0]


def database_now(server):
    with harness.pg_connect(server.database) as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT now() AT TIME ZONE 'UTC'")
        return cursor.fetchone()[0]


def row_counts(server):
    with harness.pg_connect(server.database) as connection:
        cursor = connection.cursor()
        counts = {}
        for table in (*TABLES, COUNTER_TABLE):
            cursor.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cursor.fetchone()[0]
        return counts


# ---------------------------------------------------------------- report
@dataclass
class Measured:
    timings: dict
    failures: list = field(default_factory=list)
    memory: dict = field(default_factory=dict)
    grown: dict = field(default_factory=dict)
    statuses: dict = field(default_factory=dict)
    seconds: float = 0.0
    busiest_minute: int = 0


def run_phase(server, hostile, *, seconds, memory, **attack):
    before, since = row_counts(server), database_now(server)
    memory.reset()
    with Attack(server, hostile, **attack) as running:
        time.sleep(3)  # every client under way
        started = time.monotonic()
        timings, failures = probe(server, seconds, memory)
    elapsed = time.monotonic() - started + 3
    after = row_counts(server)
    return Measured(
        timings,
        failures,
        memory.reset(),
        {table: after[table] - before[table] for table in after},
        running.statuses,
        elapsed,
        busiest_minute(server, since),
    )


def ratio_of(idle, phase, probe_name):
    return p99(phase.timings[probe_name]) / p99(idle.timings[probe_name])


def report(name, idle, phase, control=None):
    """Print the phase against idle (and against the ``control`` phase, the
    same load on Odoo's own /web/health); return the targets missed, and by
    how much."""
    print(f"\n== {name}")
    print(f"   requests sent by the attackers: {dict(sorted(phase.statuses.items()))}")
    print(f"   answered: {sum(phase.statuses.values()) / phase.seconds:.0f} req/s")
    misses = []
    for probe_name, values in phase.timings.items():
        ratio = ratio_of(idle, phase, probe_name)
        versus = ""
        if control:
            versus = f", control {ratio_of(idle, control, probe_name):.2f}x"
        print(
            f"   {probe_name:<28} p99 {p99(values) * 1000:7.1f} ms  idle p99 "
            f"{p99(idle.timings[probe_name]) * 1000:6.1f} ms  ratio {ratio:5.2f}x  "
            f"(target <= {RATIO_TARGET}x{versus}; n={len(values)})"
        )
        if ratio > RATIO_TARGET:
            misses.append(
                f"{probe_name} p99 is {ratio:.1f}x idle, {ratio / RATIO_TARGET:.1f}x "
                "the target"
                + (
                    f" (the same load on /web/health: "
                    f"{ratio_of(idle, control, probe_name):.1f}x idle)"
                    if control
                    else ""
                )
            )
    if phase.failures:
        misses.append(f"the probe got {len(phase.failures)} failures")
    for pid, peak in sorted(phase.memory.items()):
        before = idle.memory.get(pid)
        growth = peak - before if before else None
        shown = f"+{growth:.0f} MiB" if growth is not None else "a new worker"
        print(
            f"   worker {pid}: peak RSS {peak:6.0f} MiB ({shown} over idle; "
            f"target <= +{MEMORY_TARGET_MIB} MiB)"
        )
        if growth is not None and growth > MEMORY_TARGET_MIB:
            misses.append(f"worker {pid} grew {growth:.0f} MiB")
    for table, rows in phase.grown.items():
        if table == "mcp_oauth_client":
            target = (
                f"{phase.busiest_minute} in the busiest minute; target <= "
                f"{REGISTRATIONS_PER_MINUTE_TOTAL} a minute, the budget"
            )
        elif table in TABLES:
            target = "target 0"
        else:
            target = "counters: per address block and second, kept an hour"
        print(f"   {table:<22} +{rows} rows ({target})")
    # two workers may each pass the last registration of a minute at once
    if phase.busiest_minute > REGISTRATIONS_PER_MINUTE_TOTAL + 2:
        misses.append(
            f"{phase.busiest_minute} clients registered within a minute, "
            f"{phase.busiest_minute - REGISTRATIONS_PER_MINUTE_TOTAL} over"
        )
    if phase.grown["mcp_oauth_grant"] or phase.grown["mcp_oauth_token"]:
        misses.append("grants or tokens were written by strangers")
    return misses


def log_in(server):
    connector = Connector(server)
    connector.discover()
    answer = connector.log_in("/odoo")
    assert answer.status_code == 303, answer.text[:300]
    session = connector.browser.cookies.get("session_id")
    assert session, "no session cookie"
    return f"session_id={session}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="per attack")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="omq-bench-attack-"))
    hostile = HostileHttpsServer(tmp)
    print("starting odoo-bin --workers 2 (crons off, proxy mode)...", flush=True)
    server = start_odoo_server(
        tmp,
        cron_threads=0,
        proxy_mode=True,
        env={"ODOO_MCP_OAUTH_TEST_MODE": "1", "SSL_CERT_FILE": str(hostile.cert)},
        params={
            "odoo_mcp_quotation.rate_limit_per_minute": "1000000",
            "odoo_mcp_quotation.rate_limit_per_user_per_minute": "1000000",
            "odoo_mcp_quotation.build_when_idle": "False",
            "odoo_mcp_quotation.oauth_registrations_per_minute_total": str(
                REGISTRATIONS_PER_MINUTE_TOTAL
            ),
        },
    )
    misses = {}
    try:
        memory = WorkerMemory(server)
        probe(server, 5, memory)  # warm every worker
        memory.reset()
        idle = Measured(*probe(server, 30, memory))
        idle.memory = memory.reset()
        assert not idle.failures, idle.failures
        print("idle, 30 s:")
        for name, values in idle.timings.items():
            print(f"   {name:<28} p99 {p99(values) * 1000:7.1f} ms (n={len(values)})")
        cookie = log_in(server)
        phases = {}
        for name, control, attack in (
            (
                "control: 50 clients, 1 GET /web/health/s each (no OAuth)",
                None,
                {"paced": True, "control": True},
            ),
            (
                "paced: 50 anonymous clients, 1 request/s each",
                "control: 50 clients, 1 GET /web/health/s each (no OAuth)",
                {"paced": True},
            ),
            (
                "control flood: 50 clients of GET /web/health, closed loop",
                None,
                {"paced": False, "control": True},
            ),
            (
                "flood: 50 anonymous clients, closed loop",
                "control flood: 50 clients of GET /web/health, closed loop",
                {"paced": False},
            ),
            (
                "logged-in: 50 clients of one user's session, 1 authorize/s each",
                "control: 50 clients, 1 GET /web/health/s each (no OAuth)",
                {"paced": True, "cookie": cookie},
            ),
        ):
            print(f"\n{name}: {args.seconds} s...", flush=True)
            phases[name] = run_phase(
                server, hostile, seconds=args.seconds, memory=memory, **attack
            )
            misses[name] = report(
                name, idle, phases[name], phases.get(control) if control else None
            )
            time.sleep(6)  # the last fetches end (their deadline)
    finally:
        stop_odoo_server(server)
        hostile.close()
    print("\nTargets missed:")
    for name, missed in misses.items():
        for miss in missed:
            print(f"   {name}: {miss}")
    if not any(misses.values()):
        print("   none")
    print(
        "\nWhy: every request, refused or not, takes an HTTP worker for its "
        "Odoo dispatch (milliseconds of CPU on this 2-core machine, which the "
        "load generator shares), and a probe waits behind the requests queued "
        "before it: the control phases show what the same load costs on "
        "Odoo's cheapest route. Under 'flood' both workers are busy all the "
        "time, so the probe's p99 is the queue, not a held worker. Under "
        "'logged-in' one of the two workers may be fetching a document (one "
        "slot: never more than half of the workers) for up to its 5 s "
        "deadline, and the other serves everything else."
    )


if __name__ == "__main__":
    main()
