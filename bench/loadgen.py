"""A small closed-loop HTTP load generator for the benchmarks (loopback only).

Each client thread sends its requests one after another on fresh connections
(Odoo's prefork workers close them); a connection refused or reset by a full
listen backlog is retried and counted, never silently lost.
"""

import http.client
import json
import statistics
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Result:
    name: str
    concurrency: int
    latencies_ms: list = field(default_factory=list)
    statuses: dict = field(default_factory=dict)
    retries: int = 0
    seconds: float = 0.0

    @property
    def rps(self):
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def percentile(self, p):
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    def row(self):
        return (
            f"{self.name:<34} c={self.concurrency:<3} n={len(self.latencies_ms):<5} "
            f"{self.rps:8.1f} req/s   p50 {self.percentile(50):6.1f} ms   "
            f"p99 {self.percentile(99):6.1f} ms   mean "
            f"{statistics.fmean(self.latencies_ms):6.1f} ms   "
            f"statuses {self.statuses}   retries {self.retries}"
        )


def _request(url, method, body, headers):
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request(method, parts.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def run(name, url, *, requests, concurrency, method="GET", body=None, headers=None):
    """Send ``requests`` requests from ``concurrency`` threads; return a Result.

    ``body`` may be a function of the request's index, ``headers`` a function
    of the encoded body (a signature over it, for instance).
    """
    result = Result(name, concurrency)
    lock = threading.Lock()
    counter = iter(range(requests))
    payload = json.dumps(body).encode() if callable(body) is False and body else None

    def client():
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            data = json.dumps(body(index)).encode() if callable(body) else payload
            for attempt in range(5):
                started = time.perf_counter()
                try:
                    sent = headers(data) if callable(headers) else headers
                    status = _request(url, method, data, sent or {})
                    break
                except (ConnectionError, http.client.HTTPException):
                    with lock:
                        result.retries += 1
                    time.sleep(0.01 * (attempt + 1))
            else:
                raise RuntimeError(f"{name}: request {index} failed 5 times")
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                result.latencies_ms.append(elapsed)
                result.statuses[status] = result.statuses.get(status, 0) + 1

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    return result


def against_health(server_url, name, url, plan, *, bodies, headers):
    """Time POSTs to ``url`` beside Odoo's own /web/health, round after round.

    After a warm-up of each, every ``(concurrency, requests)`` of ``plan`` is
    timed on both, and the ratios printed. ``bodies(round)`` gives the body
    function of a round (``"warm"``, then ``"c<concurrency>"``), so that each
    round may send what no other sent (ElevenLabs conversation ids are unique).
    Returns the ``(concurrency, health, post)`` rows.
    """
    health_url = f"{server_url}/web/health"
    post = {"method": "POST", "headers": headers}
    run("warm-up", health_url, requests=50, concurrency=2)
    run("warm-up", url, requests=20, concurrency=2, body=bodies("warm"), **post)
    rows = []
    for concurrency, count in plan:
        timed = {"requests": count, "concurrency": concurrency}
        health = run("GET /web/health (Odoo's own)", health_url, **timed)
        print(health.row(), flush=True)
        answer = run(name, url, body=bodies(f"c{concurrency}"), **timed, **post)
        print(answer.row(), flush=True)
        rows.append((concurrency, health, answer))
    print(f"\nratio {name} / health, same server, same run:")
    for concurrency, health, answer in rows:
        print(
            f"  c={concurrency:<3} throughput {answer.rps / health.rps:5.2f}x   "
            f"p50 {answer.percentile(50):.1f} ms vs {health.percentile(50):.1f} ms"
        )
    return rows


def drain(backlog, pending, *, verb, timeout):
    """Poll ``pending()`` each second until the backlog is gone or time is up.

    Shows the progress as ``<done>/<backlog> <verb>``; returns how many were
    done and in how many seconds.
    """
    started = time.monotonic()
    left = backlog
    while left and time.monotonic() - started < timeout:
        time.sleep(1)
        left = pending()
        print(f"  {backlog - left}/{backlog} {verb}", end="\r", flush=True)
    return backlog - left, time.monotonic() - started
