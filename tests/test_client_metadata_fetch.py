"""The client ID metadata document fetch (``lib/client_metadata.py``) against a
hostile HTTPS server on loopback, in this process: real sockets, real TLS, a
certificate made for the run. What the fetch costs is checked here, where it
is cheap to measure; tests/test_oauth_metadata_fetch.py checks the same
through a real Odoo server."""

import resource
import threading
import time

import pytest
from helpers.hostile_https import HOSTILE_PATHS, TEST_HOST_NAME, HostileHttpsServer
from helpers.pure_modules import load

client_metadata = load("lib.client_metadata")

DEADLINE = client_metadata.TIMEOUT_SECONDS
# thread start-up, TLS set-up and a loaded machine: far below the 30 s and
# more that a trickling server held a fetch before
SLACK_SECONDS = 2


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    server = HostileHttpsServer(tmp_path_factory.mktemp("hostile-https"))
    yield server
    server.close()


@pytest.fixture
def test_mode(hostile, monkeypatch):
    """Loopback allowed, and the test certificate trusted, as the Odoo server
    under test is told by its environment."""
    monkeypatch.setenv(client_metadata.TEST_MODE_ENV, "1")
    monkeypatch.setenv("SSL_CERT_FILE", str(hostile.cert))


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_failure(url, **kwargs):
    """Seconds until the fetch of ``url`` failed, and its message."""
    started = time.monotonic()
    with pytest.raises(client_metadata.FetchFailed) as failed:
        client_metadata.fetch(url, **kwargs)
    return time.monotonic() - started, str(failed.value)


@pytest.mark.usefixtures("test_mode")
def test_a_good_document_is_fetched_and_read(hostile):
    url = f"{hostile.url}/client.json"
    document = client_metadata.fetch(url)
    assert document == {
        "client_id": url,
        "client_name": "Hostile test client",
        "redirect_uris": ["http://127.0.0.1:33418/callback"],
    }


@pytest.mark.usefixtures("test_mode")
@pytest.mark.parametrize("path", [*HOSTILE_PATHS, "stall"])
def test_a_hostile_server_costs_one_deadline_and_a_few_kb_at_most(hostile, path):
    """Whatever the server does, the fetch ends within its one deadline with
    the same message, and reads a few KB: a trickle used to hold it 30 s and
    more (the timeout was per read), and ``gzip, gzip`` took 2 GiB."""
    url = hostile.stall_url if path == "stall" else f"{hostile.url}{path}"
    peak_before = peak_rss_mib()
    elapsed, message = timed_failure(url)
    assert elapsed < DEADLINE + SLACK_SECONDS, f"{elapsed:.1f} s"
    assert message == client_metadata.FETCH_FAILED
    assert peak_rss_mib() - peak_before < 32, "the fetch inflated the answer"


@pytest.mark.usefixtures("test_mode")
def test_name_resolution_counts_against_the_same_deadline(hostile):
    """getaddrinfo cannot be interrupted: it runs aside and is left behind."""

    def resolver_that_hangs(*_args, **_kwargs):
        time.sleep(DEADLINE * 3)
        raise OSError("too late")

    elapsed, _message = timed_failure(
        "https://slow-dns.example/client.json", resolve=resolver_that_hangs
    )
    assert elapsed < DEADLINE + SLACK_SECONDS, f"{elapsed:.1f} s"


@pytest.mark.usefixtures("test_mode")
def test_the_name_is_resolved_once_and_that_address_connected_to(hostile):
    """A resolver that answers an allowed address first and a private one
    next (DNS rebinding) is asked once, and the fetch reaches the first."""
    port = int(hostile.url.rsplit(":", 1)[1])
    url = f"https://{TEST_HOST_NAME}:{port}/client-rebind.json"
    hostile.documents["/client-rebind.json"] = hostile.document(client_id=url)
    asked = []

    def rebinding(host, port, **_kwargs):
        asked.append(host)
        address = "127.0.0.1" if len(asked) == 1 else "10.0.0.1"
        return [(2, 1, 6, "", (address, port))]

    assert client_metadata.fetch(url, resolve=rebinding)["client_id"] == url
    assert asked == [TEST_HOST_NAME]


def test_loopback_is_refused_outside_test_mode(hostile, monkeypatch):
    monkeypatch.delenv(client_metadata.TEST_MODE_ENV, raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(hostile.cert))
    before = hostile.requests["/client.json"]
    _elapsed, message = timed_failure(f"{hostile.url}/client.json")
    assert message == client_metadata.FETCH_FAILED
    assert hostile.requests["/client.json"] == before, "it connected"


@pytest.mark.parametrize(
    "address",
    [
        "::127.0.0.1",  # IPv4-compatible
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:0:a00:1",  # IPv4-translated
        "64:ff9b::7f00:1",  # NAT64
        "64:ff9b:1::a00:1",  # NAT64, local use
        "2002:7f00:1::1",  # 6to4
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "10.1.2.3",
        "100.64.0.1",  # carrier-grade NAT
        "169.254.169.254",  # cloud metadata
        "224.0.0.1",
        "fd00::1",
        "fe80::1",
        "fec0::1",
        "ff0e::1",
        "::",
        "127.0.0.1",
        "::1",
    ],
)
def test_every_address_that_is_not_global_unicast_is_refused(address):
    assert not client_metadata.address_allowed(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert client_metadata.address_allowed(address)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://example.com:99999/client.json", "port from 1 to 65535"),
        ("https://example.com:0/client.json", "port from 1 to 65535"),
        ("https://[::1/client.json", "not a valid URL"),
        (f"https://{'a' * 70}.example/client.json", "not a valid host name"),
        ("https://exa_mple.com/client.json", "not a valid host name"),
        ("https://example.com/", "with a path"),
        ("https://example.com/cli\u00e9nt.json", "percent-encode"),
        ("https://example.com/a b.json", "percent-encode"),
        ("https://user@example.com/client.json", "no user info"),
        ("https://example.com/client.json#x", "no user info or fragment"),
    ],
)
def test_a_client_id_that_cannot_be_a_url_says_why(url, says):
    with pytest.raises(client_metadata.ClientIdInvalid, match=says):
        client_metadata.parse_client_id(url)


def test_remembered_fetches_stay_bounded_and_expire():
    recent = client_metadata.RecentFetches(
        keep_seconds=60, failure_seconds=0.2, max_entries=3
    )
    for index in range(5):
        recent.remember(f"https://a.example/{index}", {"n": index})
    assert recent.get("https://a.example/0") is None, "the oldest is forgotten"
    assert recent.get("https://a.example/4") == {"n": 4}
    failure = client_metadata.FetchFailed()
    recent.remember("https://b.example/x", failure)
    assert recent.get("https://b.example/x") is failure
    time.sleep(0.3)
    assert recent.get("https://b.example/x") is None


def test_resolutions_left_behind_are_bounded_per_process():
    """A resolver that never returns keeps its thread: no more than
    MAX_RESOLVERS of them, later fetches fail at once instead."""
    release = threading.Event()

    def resolver_that_hangs(*_args, **_kwargs):
        release.wait(60)
        raise OSError("released")

    started = time.monotonic()
    threads = [
        threading.Thread(
            target=lambda: timed_failure(
                "https://hang.example/c.json", resolve=resolver_that_hangs
            )
        )
        for _ in range(client_metadata.MAX_RESOLVERS)
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    try:
        elapsed, _message = timed_failure(
            "https://one-more.example/c.json", resolve=resolver_that_hangs
        )
        assert elapsed < 1, "refused at once: every resolver thread is taken"
    finally:
        release.set()
        for thread in threads:
            thread.join()
    assert time.monotonic() - started < DEADLINE + SLACK_SECONDS + 1
