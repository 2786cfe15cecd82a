"""Client ID metadata documents: a client_id that is an https URL naming its
own metadata, fetched by the authorization server.

The URL is chosen by a stranger, so everything the fetch can cost is bounded
here, free of Odoo:

- the URL is checked first (https, a host, a path, a valid port and host
  name): :class:`ClientIdInvalid` says what is wrong with it;
- every address the host resolves to must be a global unicast address that
  embeds no IPv4 address (``::ffff:a.b.c.d``, ``::a.b.c.d``, NAT64, 6to4,
  Teredo); the connection goes to one of those addresses, and the peer it
  reached is checked again, so DNS rebinding cannot swap it;
- one wall-clock deadline for the whole fetch, name resolution, connection,
  TLS handshake and every read included (a byte every second keeps no
  per-read timeout from firing);
- at most :data:`MAX_RESPONSE_BYTES` read from the socket, headers and
  chunk framing included, and no content coding: the request asks for
  ``identity`` and any ``Content-Encoding`` is refused unread (a 2 KB gzip
  chain inflates to gigabytes); no redirects, 200 only;
- one error for every failure of the fetch (:class:`FetchFailed`): why it
  failed goes to the server log only, never to the client, who could
  otherwise map ports and hosts through this server.

How many fetches run at once, and what is remembered between requests, is
the caller's business (``models/mcp_oauth_client.py``).

Test mode (the server process started with ``ODOO_MCP_OAUTH_TEST_MODE=1`` in
its environment, which no database user can set) also accepts 127.0.0.0/8
and ::1, so a real-server test can serve a document from loopback over
https with its own certificate authority (``SSL_CERT_FILE``).
"""

import http.client
import io
import ipaddress
import logging
import os
import socket
import ssl
import threading
import time
from collections import OrderedDict
from typing import Annotated, Literal, NamedTuple
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from .client_registration import MAX_REDIRECT_URIS, StorableUri, is_client_name
from .json_body import JsonBodyError, parse_json
from .request_schema import problems_of

_logger = logging.getLogger(__name__)

TEST_MODE_ENV = "ODOO_MCP_OAUTH_TEST_MODE"
TIMEOUT_SECONDS = 5  # the whole fetch, from name resolution to the last byte
MAX_BYTES = 5 * 1024  # the document
MAX_RESPONSE_BYTES = 16 * 1024  # everything read from the socket
# name resolution cannot be interrupted: it runs in a thread that is left
# behind at the deadline, and a process never has more than this many
MAX_RESOLVERS = 4
MAX_HOST = 253
MAX_LABEL = 63
USER_AGENT = "odoo-mcp-quotation (client metadata document fetch)"
# IPv6 ranges that carry an IPv4 address, which a router or the kernel may
# turn into that address (::ffff:127.0.0.1 reaches loopback on Linux)
EMBEDS_IPV4 = tuple(
    ipaddress.ip_network(network)
    for network in (
        "::/96",  # IPv4-compatible (deprecated), :: and ::1 included
        "::ffff:0:0/96",  # IPv4-mapped
        "::ffff:0:0:0/96",  # IPv4-translated (RFC 2765)
        "64:ff9b::/96",  # NAT64, well-known prefix (RFC 6052)
        "64:ff9b:1::/48",  # NAT64, local use (RFC 8215)
        "2002::/16",  # 6to4
        "2001::/32",  # Teredo
    )
)
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
FETCH_FAILED = (
    "The app's client metadata document could not be fetched. Check that its "
    "client_id URL serves the document over https from the public internet, "
    "then try again."
)


class ClientMetadataError(Exception):
    """The client cannot be known by its document; the message is for the client."""


class ClientIdInvalid(ClientMetadataError):
    """The client_id URL itself is not acceptable; the message says why."""


class FetchFailed(ClientMetadataError):
    """The document could not be fetched: one message whatever the reason."""

    def __init__(self):
        super().__init__(FETCH_FAILED)


class _Refused(Exception):
    """Why a fetch failed: for the server log only."""


def is_metadata_url(client_id):
    return isinstance(client_id, str) and client_id.startswith("https://")


def test_mode():
    return os.environ.get(TEST_MODE_ENV) == "1"


# ---------------------------------------------------------------- the URL
class ClientIdUrl(NamedTuple):
    url: str
    host: str  # ASCII (IDNA), lower case, IPv6 without brackets
    port: int
    target: str  # path and query, as sent in the request line
    authority: str  # the Host header


def parse_client_id(url):
    """The parts of a client_id URL, or ClientIdInvalid saying what to fix."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a bad port, an unclosed [ for IPv6
        parts = None
    if parts is None or port == 0:
        raise ClientIdInvalid(
            "The client_id is not a valid URL: write https://host/path, with a "
            "port from 1 to 65535 if any."
        )
    if parts.scheme != "https" or not parts.hostname or parts.path in ("", "/"):
        raise ClientIdInvalid(
            "A client_id URL must be https with a path (https://host/client.json)."
        )
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise ClientIdInvalid("A client_id URL carries no user info or fragment.")
    host = _ascii_host(parts.hostname)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    if not (target.isascii() and target.isprintable()) or " " in target:
        raise ClientIdInvalid(
            "The client_id URL's path must be ASCII without spaces or controls "
            "(percent-encode the rest)."
        )
    authority = f"[{host}]" if ":" in host else host
    if port:
        authority += f":{port}"
    return ClientIdUrl(url, host, port or 443, target, authority)


def _ip_address(text):
    """``text`` as an IP address, or None if it is a name."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _ascii_host(hostname):
    """The host as DNS and TLS see it; ClientIdInvalid for a name no DNS holds."""
    if _ip_address(hostname):
        return str(_ip_address(hostname))
    try:
        host = hostname.encode("idna").decode("ascii")
    except UnicodeError:  # a label longer than 63, an empty label
        host = None
    labels = host.rstrip(".").split(".") if host else []
    if (
        not labels
        or len(host) > MAX_HOST
        or not all(0 < len(label) <= MAX_LABEL for label in labels)
        or not all(label.replace("-", "").isalnum() for label in labels)
    ):
        raise ClientIdInvalid(
            "The client_id URL's host is not a valid host name: labels of 1 to "
            f"{MAX_LABEL} letters, digits or hyphens, {MAX_HOST} characters in all."
        )
    return host


# ---------------------------------------------------------------- addresses
def address_allowed(address, loopback=False):
    """Whether a document may be fetched from ``address``: a global unicast
    address embedding no IPv4 one (and loopback, when ``loopback``)."""
    address = ipaddress.ip_address(address)
    if loopback and any(address in network for network in LOOPBACK):
        return True
    if address.version == 6 and any(address in network for network in EMBEDS_IPV4):
        return False
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_link_local
        or address.is_loopback
        or address.is_unspecified
        or getattr(address, "is_site_local", False)
    )


_resolvers = threading.BoundedSemaphore(MAX_RESOLVERS)


def _resolve(host, port, deadline, resolve):
    """The addresses of ``host``, every one checked, within the deadline."""
    if _ip_address(host):
        return _check_addresses([host])
    if not _resolvers.acquire(blocking=False):
        raise _Refused("too many name resolutions under way in this process")
    answer = {}
    resolved = threading.Event()

    def run():
        try:
            answer["infos"] = resolve(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as error:
            answer["error"] = error
        finally:
            _resolvers.release()
            resolved.set()

    threading.Thread(target=run, name="client-metadata-resolve", daemon=True).start()
    if not resolved.wait(_remaining(deadline)):
        raise _Refused(f"resolving {host} took longer than the deadline")
    if "error" in answer:
        raise _Refused(f"cannot resolve {host}: {answer['error']}")
    addresses = list(dict.fromkeys(info[4][0] for info in answer["infos"]))
    return _check_addresses(addresses)


def _check_addresses(addresses):
    loopback = test_mode()
    refused = [a for a in addresses if not address_allowed(a, loopback)]
    if refused or not addresses:
        raise _Refused(f"not a public address: {', '.join(refused) or 'none'}")
    return addresses


def _remaining(deadline):
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _Refused("the deadline passed")
    return remaining


# ---------------------------------------------------------------- the fetch
class _DeadlineStream(io.RawIOBase):
    """The connection as http.client reads it: every read waits only until
    the fetch's deadline, and no more than ``limit`` bytes are ever read."""

    def __init__(self, sock, deadline, limit):
        super().__init__()
        self.sock, self.deadline, self.left = sock, deadline, limit

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.left <= 0:
            raise _Refused(f"the answer is longer than {MAX_RESPONSE_BYTES} bytes")
        self.sock.settimeout(_remaining(self.deadline))
        try:
            count = self.sock.recv_into(memoryview(buffer)[: self.left])
        except TimeoutError:
            raise _Refused("the answer did not come before the deadline") from None
        self.left -= count
        return count


class _Source:
    """What http.client.HTTPResponse reads from: the bounded stream."""

    def __init__(self, stream):
        self.stream = stream

    def makefile(self, _mode):
        return io.BufferedReader(self.stream, buffer_size=2048)


def _connect(addresses, port, deadline):
    """A TCP connection to the first of ``addresses`` that answers."""
    failures = []
    for address in addresses:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(_remaining(deadline))
            sock.connect((address, port))
            peer = sock.getpeername()[0]
            if not address_allowed(peer, test_mode()):
                raise _Refused(f"connected to {peer}, not a public address")
            return sock
        except OSError as error:  # refused, unreachable, timed out
            sock.close()
            failures.append(f"{address}: {error}")
        except BaseException:
            sock.close()
            raise
    raise _Refused(f"cannot connect: {'; '.join(failures)}")


def _get(target, addresses, deadline):
    """The body of a 200 answer to GET ``target``, bounded as above."""
    sock = _connect(addresses, target.port, deadline)
    try:
        sock.settimeout(_remaining(deadline))  # the whole handshake
        context = ssl.create_default_context()
        sock = context.wrap_socket(sock, server_hostname=target.host)
        head = (
            f"GET {target.target} HTTP/1.1\r\nHost: {target.authority}\r\n"
            f"User-Agent: {USER_AGENT}\r\nAccept: application/json\r\n"
            "Accept-Encoding: identity\r\nConnection: close\r\n\r\n"
        )
        sock.settimeout(_remaining(deadline))
        sock.sendall(head.encode("ascii"))
        stream = _DeadlineStream(sock, deadline, MAX_RESPONSE_BYTES)
        response = http.client.HTTPResponse(_Source(stream), method="GET")
        response.begin()
        if response.status != 200:
            raise _Refused(f"answered HTTP {response.status}, not 200")
        if response.getheader("Content-Encoding") is not None:
            raise _Refused("answered with a Content-Encoding")
        if response.getheader("Transfer-Encoding", "chunked").lower() != "chunked":
            raise _Refused("answered with a transfer coding other than chunked")
        if (response.length or 0) > MAX_BYTES:
            raise _Refused(f"announced {response.length} bytes")
        body = response.read(MAX_BYTES + 1)
        if len(body) > MAX_BYTES:
            raise _Refused(f"longer than {MAX_BYTES} bytes")
        return body
    except (OSError, http.client.HTTPException) as error:
        raise _Refused(f"{type(error).__name__}: {error}") from None
    finally:
        sock.close()


def fetch(url, resolve=socket.getaddrinfo):
    """The validated metadata document at ``url`` (its own client_id).

    Raises ClientIdInvalid for a URL that cannot be one, FetchFailed when the
    document cannot be had (why goes to the log), ClientMetadataError for a
    document that is not acceptable. ``resolve`` is ``socket.getaddrinfo``'s
    signature (tests give a slow one).
    """
    target = parse_client_id(url)
    deadline = time.monotonic() + TIMEOUT_SECONDS
    try:
        addresses = _resolve(target.host, target.port, deadline, resolve)
        body = _get(target, addresses, deadline)
    except _Refused as error:
        _logger.info("Client metadata document %s not fetched: %s", url, error)
        raise FetchFailed() from None
    return validate(url, body)


# ---------------------------------------------------------------- the document
def _check_document_redirect(uri):
    """https, or http to loopback (a local client); no user info, no fragment."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise ValueError("Not a valid URL.")
    loopback = parts.hostname in ("127.0.0.1", "::1", "localhost")
    if not parts.hostname or not (
        parts.scheme == "https" or (parts.scheme == "http" and loopback)
    ):
        raise ValueError("A redirect URI must be https, or http to loopback.")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise ValueError("A redirect URI carries no user info or fragment.")
    return uri


DocumentRedirectUri = Annotated[StorableUri, AfterValidator(_check_document_redirect)]


class ClientMetadataDocument(BaseModel):
    """What Odoo reads of a client ID metadata document (the rest is ignored)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    client_id: str
    client_name: str | None = None
    redirect_uris: Annotated[
        list[DocumentRedirectUri],
        Field(min_length=1, max_length=MAX_REDIRECT_URIS),
    ]
    token_endpoint_auth_method: Literal["none"] = "none"


def validate(url, body):
    """The document in ``body`` as Odoo keeps it, or ClientMetadataError."""
    try:
        data = parse_json(body, MAX_BYTES)
    except JsonBodyError as error:
        raise ClientMetadataError(
            f"The client metadata document is not acceptable JSON: {error.reason}"
        ) from None
    if not isinstance(data, dict):
        raise ClientMetadataError("The client metadata document must be an object.")
    try:
        document = ClientMetadataDocument.model_validate(data)
    except ValidationError as error:
        problem = problems_of(error)[0]
        raise ClientMetadataError(
            f"The client metadata document is not acceptable: {problem['field']}: "
            f"{problem['message']}"
        ) from None
    if document.client_id != url:
        raise ClientMetadataError(
            "The document's client_id must be the URL it is served from."
        )
    name = document.client_name
    return {
        "client_id": url,
        "client_name": name if name and is_client_name(name) else host_of(url),
        "redirect_uris": document.redirect_uris,
    }


def host_of(url):
    return urlsplit(url).hostname or url


# ---------------------------------------------------------------- remembered
class RecentFetches:
    """What this process fetched lately, keyed by URL: documents for
    ``keep_seconds``, failures for ``failure_seconds``; at most
    ``max_entries`` (the oldest forgotten first), so that memory stays
    bounded whatever URLs strangers send."""

    def __init__(self, keep_seconds=300, failure_seconds=30, max_entries=256):
        self.keep_seconds = keep_seconds
        self.failure_seconds = failure_seconds
        self.max_entries = max_entries
        self._entries = OrderedDict()
        self._lock = threading.Lock()

    def get(self, url):
        """The document, a ClientMetadataError to raise again, or None."""
        with self._lock:
            entry = self._entries.get(url)
            if entry is None:
                return None
            expires, outcome = entry
            if expires < time.monotonic():
                del self._entries[url]
                return None
            return outcome

    def remember(self, url, outcome):
        lifetime = (
            self.failure_seconds
            if isinstance(outcome, Exception)
            else self.keep_seconds
        )
        with self._lock:
            self._entries.pop(url, None)
            self._entries[url] = (time.monotonic() + lifetime, outcome)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
