"""Client ID metadata documents: a client_id that is an https URL naming its
own metadata, fetched by the authorization server.

Fetching a URL that a stranger chose is a server-side request forgery risk, so
the fetch is https only, to a public address only (checked after resolution,
and the connection goes to the address that was checked, so DNS rebinding
cannot swap it), with a short timeout, a size limit and no redirects.

Test mode (the server process started with ``ODOO_MCP_OAUTH_TEST_MODE=1`` in
its environment, which no database user can set) also accepts loopback
addresses, so a real-server test can serve a document from 127.0.0.1 over
https with its own certificate authority (``SSL_CERT_FILE``).
"""

import ipaddress
import os
import socket
from urllib.parse import urlsplit

import urllib3

from .client_registration import is_client_name, is_storable_uri
from .json_body import JsonBodyError, parse_json

TEST_MODE_ENV = "ODOO_MCP_OAUTH_TEST_MODE"
TIMEOUT_SECONDS = 5
MAX_BYTES = 5 * 1024
AUTH_METHODS = ("none",)


class ClientMetadataError(Exception):
    """The document cannot be used; the message says why, for the client."""


def is_metadata_url(client_id):
    return isinstance(client_id, str) and client_id.startswith("https://")


def test_mode():
    return os.environ.get(TEST_MODE_ENV) == "1"


def _public_address(host, port):
    """The first address of ``host`` if every one is public (or loopback in
    test mode); else raise."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError as error:
        raise ClientMetadataError(f"Cannot resolve {host}: {error}.") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        if not (address.is_global or (test_mode() and address.is_loopback)):
            raise ClientMetadataError(
                f"{host} resolves to a private or reserved address: client "
                "metadata documents must be served from the public internet."
            )
    return str(addresses[0])


def fetch(url):
    """The validated metadata document at ``url`` (its own client_id)."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.path in ("", "/"):
        raise ClientMetadataError(
            "A client_id URL must be https with a path (https://host/client.json)."
        )
    if parts.username or parts.password or parts.fragment:
        raise ClientMetadataError("A client_id URL carries no user info or fragment.")
    port = parts.port or 443
    address = _public_address(parts.hostname, port)
    pool = urllib3.HTTPSConnectionPool(
        address,
        port,
        cert_reqs="CERT_REQUIRED",
        server_hostname=parts.hostname,
        assert_hostname=parts.hostname,
        timeout=urllib3.Timeout(total=TIMEOUT_SECONDS),
        retries=False,
        maxsize=1,
    )
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        response = pool.urlopen(
            "GET",
            target,
            headers={"Host": parts.netloc, "Accept": "application/json"},
            redirect=False,
            preload_content=False,
            timeout=urllib3.Timeout(total=TIMEOUT_SECONDS),
        )
        body = response.read(MAX_BYTES + 1, decode_content=True)
        response.release_conn()
    except urllib3.exceptions.HTTPError as error:
        raise ClientMetadataError(f"Cannot fetch {url}: {error}.") from None
    finally:
        pool.close()
    if response.status != 200:
        raise ClientMetadataError(f"{url} answered HTTP {response.status}, not 200.")
    if len(body) > MAX_BYTES:
        raise ClientMetadataError(f"{url} is larger than {MAX_BYTES} bytes.")
    return validate(url, body)


def validate(url, body):
    try:
        document = parse_json(body, MAX_BYTES)
    except JsonBodyError as error:
        raise ClientMetadataError(
            f"{url} is not an acceptable JSON document: {error.reason}"
        ) from None
    if not isinstance(document, dict) or document.get("client_id") != url:
        raise ClientMetadataError(
            "The document's client_id must be the URL it is served from."
        )
    redirect_uris = document.get("redirect_uris")
    if (
        not isinstance(redirect_uris, list)
        or not redirect_uris
        or not all(map(is_storable_uri, redirect_uris))
    ):
        raise ClientMetadataError(
            "The document must list its redirect_uris, without spaces or "
            "control characters."
        )
    method = document.get("token_endpoint_auth_method", "none")
    if method not in AUTH_METHODS:
        raise ClientMetadataError(
            "Clients known by a metadata document authenticate with "
            "token_endpoint_auth_method 'none' (PKCE) here."
        )
    name = document.get("client_name")
    return {
        "client_id": url,
        "client_name": name if name and is_client_name(name) else parts_host(url),
        "redirect_uris": redirect_uris,
    }


def parts_host(url):
    return urlsplit(url).hostname or url
