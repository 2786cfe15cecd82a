"""Client ID metadata documents through a real ``odoo-bin --workers 2``, served
by a hostile HTTPS server on loopback (``hostile_https.py``).

The server under test runs with ``ODOO_MCP_OAUTH_TEST_MODE=1`` and trusts the
hostile server's certificate through ``SSL_CERT_FILE``: both are its process
environment, which no database user can set. What is checked is what the
fetch costs the server (its workers, its memory, its transactions, its
tables) and what it tells the one who chose the URL.
"""

import html
import re
import threading
import time
import xmlrpc.client
from pathlib import Path

import harness
import pytest
import requests
from helpers.hostile_https import HOSTILE_PATHS, HostileHttpsServer
from helpers.oauth_client import Connector, pkce
from helpers.pure_modules import load
from helpers.servers import start_odoo_server, stop_odoo_server

client_metadata = load("lib.client_metadata")

REDIRECT_URI = "http://127.0.0.1:33418/callback"
DEADLINE = client_metadata.TIMEOUT_SECONDS
SLACK_SECONDS = 3
FETCH_SLOT_LOCK = 0x4D435004
FETCHES_PER_USER = "odoo_mcp_quotation.oauth_metadata_fetches_per_user_per_minute"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    server = HostileHttpsServer(tmp_path_factory.mktemp("hostile-https"))
    yield server
    server.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, hostile):
    server = start_odoo_server(
        tmp_path_factory.mktemp("odoo-cimd"),
        env={"ODOO_MCP_OAUTH_TEST_MODE": "1", "SSL_CERT_FILE": str(hostile.cert)},
        params={FETCHES_PER_USER: "1000"},  # one user runs every test here
    )
    yield server
    stop_odoo_server(server)


@pytest.fixture(scope="module")
def user(server):
    """A logged-in user's browser, as the one who clicked a link."""
    connector = Connector(server)
    connector.discover()
    answer = connector.log_in("/odoo")
    assert answer.status_code == 303, answer.text[:300]
    return connector


def count(server, table, where="TRUE", params=()):
    with harness.pg_connect(server.database) as connection:
        cursor = connection.cursor()
        cursor.execute(f"SELECT count(*) FROM {table} WHERE {where}", params)
        return cursor.fetchone()[0]


def stored(server):
    return (
        count(server, "mcp_oauth_client"),
        count(server, "mcp_oauth_grant"),
        count(server, "mcp_oauth_token"),
    )


def authorize(connector, client_id, **overrides):
    connector.client = {"client_id": client_id}
    url = connector.authorization_url(
        pkce()[1], redirect_uri=overrides.pop("redirect_uri", REDIRECT_URI), **overrides
    )
    return connector.browser.get(url, allow_redirects=False, timeout=60)


def message_of(page):
    found = re.search(r'alert-danger">([^<]*)<', page.text)
    return found and html.unescape(found.group(1).strip())


def worker_pids(server):
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    return sorted(int(pid) for pid in children.read_text().split())


def peak_rss_mib(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


# ---------------------------------------------------------------- anonymous
def test_anonymous_visitors_make_odoo_fetch_nothing_and_store_nothing(server, hostile):
    """Each distinct https client_id used to be fetched and stored as a row,
    without login: now an anonymous visitor only reaches the login page."""
    visitor = Connector(server)
    visitor.discover()
    before = stored(server)
    for index in range(20):
        answer = authorize(visitor, f"{hostile.url}/client-{index}.json?anonymous")
        assert answer.status_code == 303
        assert "/web/login" in answer.headers["Location"]
    for path in HOSTILE_PATHS:
        answer = authorize(visitor, f"{hostile.url}{path}?anonymous")
        assert answer.status_code == 303
    assert not [target for target in hostile.requests if "anonymous" in target]
    assert stored(server) == before


@pytest.mark.parametrize(
    ("client_id", "says"),
    [
        ("https://example.com:99999/client.json", "port from 1 to 65535"),
        ("https://[::1/client.json", "not a valid URL"),
        (f"https://{'a' * 70}.example/client.json", "not a valid host name"),
    ],
)
def test_a_client_id_that_is_no_url_gets_a_clear_400_at_every_door(
    server, user, client_id, says
):
    """They answered 500 with a traceback (the port, the bracket and the
    label broke ``urlsplit`` and ``getaddrinfo``)."""
    visitor = Connector(server)
    visitor.discover()
    for connector in (visitor, user):
        page = authorize(connector, client_id)
        assert page.status_code == 400
        assert says in page.text
    for endpoint in ("token", "revocation"):
        answer = requests.post(
            user.metadata[f"{endpoint}_endpoint"],
            data={
                "client_id": client_id,
                "grant_type": "refresh_token",
                "refresh_token": "omqr_x",
                "token": "omqr_x",
            },
            timeout=30,
        )
        assert answer.status_code in (400, 401), answer.text
        assert answer.json()["error"] == "invalid_client"


def test_token_and_revocation_never_fetch(server, user, hostile):
    """Only a client stored at a user's consent can hold a code or a token:
    the token and revocation endpoints look no further than the table."""
    for path in ("/client.json?token", "/trickle.json?token"):
        for endpoint, data in (
            ("token", {"grant_type": "authorization_code", "code": "x"}),
            ("revocation", {"token": "omqr_x"}),
        ):
            started = time.monotonic()
            answer = requests.post(
                user.metadata[f"{endpoint}_endpoint"],
                data={"client_id": hostile.url + path, **data},
                timeout=30,
            )
            assert answer.json()["error"] == "invalid_client", answer.text
            assert time.monotonic() - started < 2
        assert hostile.requests[path] == 0


# ---------------------------------------------------------------- logged in
def test_nothing_is_stored_before_consent_and_the_page_names_the_hosts(
    server, user, hostile
):
    url = f"{hostile.url}/client-consent.json"
    before = stored(server)
    page = authorize(user, url)
    assert page.status_code == 200, page.text[:500]
    assert 'font-monospace">127.0.0.1</strong>' in page.text
    assert "Hostile test client" in page.text
    denied = user.decide(page, "deny")
    assert "error=access_denied" in denied.headers["Location"]
    assert stored(server) == before, "no row before the user allows"
    page = authorize(user, url)
    allowed = user.decide(page, "allow")
    assert allowed.status_code == 302
    assert "code=" in allowed.headers["Location"]
    clients, grants, _tokens = stored(server)
    assert (clients, grants) == (before[0] + 1, before[1] + 1)
    assert count(
        server,
        "mcp_oauth_client",
        "client_id = %s AND kind = 'metadata_document'",
        [url],
    )
    fetches = hostile.requests["/client-consent.json"]
    assert 1 <= fetches <= 2, "remembered by each of the two workers"


@pytest.mark.parametrize(
    ("redirect_uri", "says"),
    [
        ("http://app.example/callback", "https, or http to loopback"),
        ("https://claude.ai@evil.example/callback", "no user info"),
        ("https://app.example/callback#x", "no user info or fragment"),
    ],
)
def test_document_redirect_uris_are_https_or_loopback_without_user_info(
    server, user, hostile, redirect_uri, says
):
    path = f"/client-redirect-{sum(map(ord, redirect_uri))}.json"
    hostile.documents[path] = hostile.document(path, redirect_uris=[redirect_uri])
    before = stored(server)
    page = authorize(user, hostile.url + path, redirect_uri=redirect_uri)
    assert page.status_code == 400
    assert "Location" not in page.headers
    assert says in page.text
    assert stored(server) == before


def test_a_document_redirect_uri_off_the_allow_list_is_never_redirected_to(
    server, user, hostile
):
    path = "/client-evil-redirect.json"
    evil = "https://evil.example/callback"
    hostile.documents[path] = hostile.document(path, redirect_uris=[evil])
    for query in ({"redirect_uri": evil}, {"redirect_uri": evil, "scope": "x"}):
        page = authorize(user, hostile.url + path, **query)
        assert page.status_code == 400
        assert "Location" not in page.headers


# ---------------------------------------------------------------- hostile
def test_every_failure_reads_the_same_and_ends_by_the_deadline(server, user, hostile):
    """Whatever the server did (redirect, 404, trickle, endless body, no TLS
    handshake), the page says the same thing: it used to echo the reason,
    which mapped ports and hosts through this server."""
    before = stored(server)
    messages = set()
    for url in [hostile.url + path for path in HOSTILE_PATHS] + [
        hostile.stall_url,
        f"{hostile.url}/missing.json",
        "https://127.0.0.1:1/client.json",  # nothing listens
    ]:
        started = time.monotonic()
        page = authorize(user, url)
        elapsed = time.monotonic() - started
        assert page.status_code == 400, (url, page.status_code)
        assert elapsed < DEADLINE + SLACK_SECONDS, (url, elapsed)
        messages.add(message_of(page))
    assert messages == {client_metadata.FETCH_FAILED}
    assert stored(server) == before


def test_a_gzip_chain_is_refused_unread(server, user, hostile):
    """``Content-Encoding: gzip, gzip``: 1,827 bytes took a worker to 2 GiB."""
    pids = worker_pids(server)
    peaks = {pid: peak_rss_mib(pid) for pid in pids}
    for attempt in range(4):  # on whichever worker answers
        page = authorize(user, f"{hostile.url}/gzip.json?{attempt}")
        assert page.status_code == 400
        assert message_of(page) == client_metadata.FETCH_FAILED
    assert hostile.requests["/gzip.json?3"] == 1
    assert worker_pids(server) == pids, "no worker died of it"
    grown = {pid: peak_rss_mib(pid) - peaks[pid] for pid in pids}
    assert max(grown.values()) < 64, grown


def test_slow_servers_hold_one_worker_no_transaction_and_health_answers(
    server, user, hostile
):
    """Two slow documents at once on a 2-worker server: one is fetched, on a
    connection that holds a fetch slot and no transaction; the other is
    refused at once; /web/health answers throughout. They took both workers
    for as long as the servers trickled (30 s and more), inside the request's
    transaction."""
    results = {}

    def fetch(name, url):
        started = time.monotonic()
        page = authorize(user, url)
        results[name] = (page.status_code, time.monotonic() - started)

    threads = [
        threading.Thread(target=fetch, args=(name, hostile.url + path))
        for name, path in (
            ("first", "/trickle.json?concurrent"),
            ("second", "/slow-body.json?concurrent"),
        )
    ]
    for thread in threads:
        thread.start()
        time.sleep(0.5)
    health, fetching, in_transaction = [], [], []
    while any(thread.is_alive() for thread in threads):
        started = time.monotonic()
        answer = requests.get(f"{server.url}/web/health", timeout=30)
        health.append((answer.status_code, time.monotonic() - started))
        fetching.append(slot_holders(server, "idle"))
        in_transaction.append(slot_holders(server, "idle in transaction"))
        time.sleep(0.2)
    for thread in threads:
        thread.join()
    assert sorted(status for status, _elapsed in results.values()) == [400, 503]
    assert max(elapsed for _status, elapsed in results.values()) < (
        DEADLINE + SLACK_SECONDS
    )
    assert all(status == 200 for status, _elapsed in health)
    assert max(elapsed for _status, elapsed in health) < 1, health
    assert max(fetching) == 1, "the fetch held its slot on an idle connection"
    assert max(in_transaction) == 0


def slot_holders(server, state):
    """Connections holding a fetch slot, in ``state``."""
    return count(
        server,
        "pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid",
        "l.locktype = 'advisory' AND l.classid = %s AND l.granted "
        "AND a.datname = %s AND a.state = %s",
        [FETCH_SLOT_LOCK, server.database, state],
    )


def as_admin(server, model, method, *args):
    common = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/common")
    uid = common.authenticate(server.database, "admin", "admin", {})
    models = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/object")
    return models.execute_kw(server.database, uid, "admin", model, method, list(args))


def test_one_user_makes_odoo_fetch_a_few_documents_a_minute(server, hostile):
    """A link clicked in a loop by a logged-in user: a few fetches a minute,
    then 503 with Retry-After, and the document server hears nothing more."""
    as_admin(
        server,
        "res.users",
        "create",
        {"name": "Clicker", "login": "clicker", "password": "clicker-pw"},
    )
    as_admin(server, "ir.config_parameter", "set_param", FETCHES_PER_USER, "2")
    try:
        clicker = Connector(server, user=("clicker", "clicker-pw"))
        clicker.discover()
        assert clicker.log_in("/odoo").status_code == 303
        pages = [
            authorize(clicker, f"{hostile.url}/client-clicker-{n}.json")
            for n in range(3)
        ]
        assert [page.status_code for page in pages] == [200, 200, 503]
        assert int(pages[2].headers["Retry-After"]) > 0
        assert hostile.requests["/client-clicker-2.json"] == 0
    finally:
        as_admin(server, "ir.config_parameter", "set_param", FETCHES_PER_USER, "1000")
