"""Two real Odoo servers on one database behind the shipped nginx configuration.

What a sales team that outgrew one server runs: bursts through the proxy,
REST and MCP through both servers at once, a cron worker killed mid-task.
Exactly-once is counted from each task's own history
(``helpers/exactly_once.py``), not from its final state.
"""

import os
import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import harness
import pytest
import requests
from helpers.exactly_once import (
    assert_built_once,
    customers_by_email,
    history,
    process_blocked_by,
    row_locked_for,
)
from helpers.mcp import initialize_message
from helpers.servers import (
    burst,
    start_nginx,
    start_odoo_server,
    stop_odoo_server,
    stop_process,
)

LEASE_SECONDS = 6  # a killed worker's task is resumed after this
PARAMS = {
    "odoo_mcp_quotation.rate_limit_per_minute": "1000000",
    "odoo_mcp_quotation.rate_limit_per_user_per_minute": "1000000",
    "odoo_mcp_quotation.lease_seconds": str(LEASE_SECONDS),
    "odoo_mcp_quotation.backoff_seconds": "1",
}
FINAL = ("done", "failed", "cancelled")


@dataclass
class Cluster:
    servers: list
    proxy: object
    api_key: str
    database: str

    def db(self):
        return harness.pg_connect(self.database)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cluster")
    first = start_odoo_server(tmp, params=PARAMS, proxy_mode=True)
    servers = [first]
    try:
        servers.append(start_odoo_server(tmp, database=first.database, proxy_mode=True))
        proxy = start_nginx(tmp, servers)
        try:
            yield Cluster(servers, proxy, first.api_key, first.database)
        finally:
            stop_process(proxy.process)
    finally:
        for server in reversed(servers):
            stop_odoo_server(server, drop=server is first)


def quotation(index, email_domain, emails=None, product="DESK-STD"):
    number = index % emails if emails else index
    return {
        "customer_name": f"Customer {number}",
        "email": f"customer{number}@{email_domain}",
        "lines": [{"product": product, "quantity": 1 + index % 3}],
    }


def submit(server, api_key, body):
    """POST a quotation request straight to a server; its 202 answer."""
    response = requests.post(
        f"{server.url}/api/quotation/async",
        json=body,
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=60,
    )
    assert response.status_code == 202, response.text
    return response.json()


def wait_until_final(cluster, tracking_ids, timeout):
    deadline = time.monotonic() + timeout
    with cluster.db() as connection, connection.cursor() as cr:
        while True:
            cr.execute(
                "SELECT state, count(*) FROM quotation_task "
                "WHERE tracking_id = ANY(%s) GROUP BY state",
                [list(tracking_ids)],
            )
            states = dict(cr.fetchall())
            if sum(states.get(state, 0) for state in FINAL) == len(tracking_ids):
                return states
            if time.monotonic() > deadline:
                raise AssertionError(f"not all final after {timeout} s: {states}")
            time.sleep(0.5)


def test_a_burst_of_300_connections_through_the_proxy_loses_nothing(cluster):
    """300 POSTs sent at once on 300 open connections: all 202, all done once."""
    count = 300
    answers = burst(
        cluster.proxy.url,
        "/api/quotation/async",
        [quotation(index, "burst.example") for index in range(count)],
        {
            "Authorization": f"Bearer {cluster.api_key}",
            "Content-Type": "application/json",
        },
    )
    assert Counter(status for status, _body in answers) == {202: count}
    # proxy mode: the status URL is the proxy's, not a server's
    assert {body["status_url"].split("/api/")[0] for _status, body in answers} == {
        cluster.proxy.url
    }
    tracking_ids = {body["tracking_id"] for _status, body in answers}
    assert len(tracking_ids) == count
    assert wait_until_final(cluster, tracking_ids, timeout=180) == {"done": count}
    assert_built_once(cluster.database, tracking_ids)


class McpClient:
    """Plain JSON-RPC over Streamable HTTP: one session per server."""

    def __init__(self, url, api_key):
        self.url = f"{url}/mcp"
        self.headers = {
            "Authorization": f"Bearer {api_key}",
            "Accept": "application/json, text/event-stream",
        }
        answer = self._post(
            initialize_message(client_name="scale-out test", request_id=0)
        )
        self.headers.update(
            {
                "Mcp-Session-Id": answer.headers["Mcp-Session-Id"],
                "MCP-Protocol-Version": "2025-11-25",
            }
        )

    def _post(self, message):
        response = requests.post(
            self.url, json=message, headers=self.headers, timeout=60
        )
        assert response.status_code == 200, response.text
        return response

    def create_quotation(self, arguments):
        answer = self._post(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "create_quotation", "arguments": arguments},
            }
        ).json()
        return answer["result"]["structuredContent"]["tracking_id"]


def test_500_quotations_through_two_servers_are_built_exactly_once(cluster):
    """REST and MCP mixed over both servers; 100 customers asked for 5 times each."""
    count, emails, domain = 500, 100, "twoservers.example"
    mcp = [McpClient(server.url, cluster.api_key) for server in cluster.servers]

    def send(index):
        server = cluster.servers[index % 2]
        arguments = quotation(
            index, domain, emails, product=("DESK-STD", "CHAIR-ERG")[index % 2]
        )
        if index % 4 < 2:
            return submit(server, cluster.api_key, arguments)["tracking_id"]
        return mcp[index % 2].create_quotation(arguments)

    with ThreadPoolExecutor(16) as pool:
        tracking_ids = set(pool.map(send, range(count)))

    assert len(tracking_ids) == count
    assert wait_until_final(cluster, tracking_ids, timeout=240) == {"done": count}
    assert_built_once(cluster.database, tracking_ids)
    customers = customers_by_email(cluster.database, domain)
    assert len(customers) == emails
    assert set(customers.values()) == {1}, "one customer per e-mail"
    with cluster.db() as connection, connection.cursor() as cr:
        cr.execute(
            "SELECT count(*) FROM crm_lead WHERE email_from ILIKE %s", [f"%@{domain}"]
        )
        assert cr.fetchone()[0] == count, "one opportunity per request"


def test_a_cron_worker_killed_mid_task_is_resumed_once_after_its_lease(cluster):
    domain = "killed.example"
    body = quotation(0, domain, product="CHAIR-ERG")
    # the order line's product: the worker stops there, customer and
    # opportunity already made in its transaction
    locker, locker_pid = row_locked_for(
        cluster.database,
        "SELECT id FROM product_product WHERE default_code = 'CHAIR-ERG'",
    )
    try:
        queued = submit(cluster.servers[0], cluster.api_key, body)
        worker = process_blocked_by(cluster.database, cluster.servers, locker_pid)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        locker.rollback()
        locker.close()

    killed_at = time.monotonic()
    deadline = killed_at + LEASE_SECONDS + 60
    while True:  # the agent keeps asking, as it would on the phone
        status = requests.get(
            queued["status_url"],
            headers={"Authorization": f"Bearer {cluster.api_key}"},
            timeout=60,
        ).json()
        if status["status"] in FINAL or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert status["status"] == "done", status
    assert status["attempts"] == 2
    assert time.monotonic() - killed_at > LEASE_SECONDS - 2, "resumed after its lease"
    assert_built_once(cluster.database, [queued["tracking_id"]])
    claims, _done, _created = history(
        cluster.database, [queued["tracking_id"]]
    ).popitem()[1]
    assert claims == 2, "claimed by the killed worker, then by another"
    assert customers_by_email(cluster.database, domain) == {f"customer0@{domain}": 1}
    with cluster.db() as connection, connection.cursor() as cr:
        cr.execute(
            "SELECT count(*) FROM crm_lead WHERE email_from = %s", [body["email"]]
        )
        assert cr.fetchone()[0] == 1
