"""Dynamic client registration (RFC 7591): what may register, free of Odoo.

Registration is open to anyone on the internet, so it is only as open as the
redirect-URI allow-list that administrators keep: a client, registered or
known by a metadata document, can only ever send codes back to a place on
that list.

Allow-list entries, separated by spaces, commas or lines: ``https://claude.ai/api/mcp/auth_callback``
matches that URL exactly; ``http://127.0.0.1:*`` matches any port and any path
on that host (loopback clients such as Claude Code pick a free port).
"""

import ipaddress
import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from .json_body import FORBIDDEN_IN_LINE
from .request_schema import problems_of

DEFAULT_ALLOWED_REDIRECTS = (
    "https://claude.ai/api/mcp/auth_callback",
    "https://claude.com/api/mcp/auth_callback",
    "http://127.0.0.1:*",
    "http://localhost:*",
)
ENTRY = re.compile(r"^(https?)://([^/:?#\s]+)(?::(\d{1,5}|\*))?(/[^?#\s]*)?$", re.I)
AUTH_METHODS = ("none", "client_secret_post", "client_secret_basic")
MAX_NAME = 200
# a stored client is at most about 2 KB: five URIs of 400 characters
MAX_REDIRECT_URIS = 5
MAX_URI = 400
# a URI holds no whitespace (RFC 3986), and a stored list is split on it
NOT_IN_URI = re.compile(r"\s")
# registrations are counted per IPv4 address and per IPv6 /64, the block a
# single customer line usually gets
IPV6_COUNTED_PREFIX = 64


class RegistrationError(Exception):
    """An RFC 7591 error: ``error`` code and a description saying what to fix."""

    def __init__(self, error, description):
        super().__init__(description)
        self.error = error
        self.description = description


def parse_allow_list(text):
    """The entries of the allow-list text; a malformed line raises ValueError."""
    entries = [entry for entry in re.split(r"[\s,]+", text or "") if entry]
    for line in entries:
        if not ENTRY.match(line):
            raise ValueError(
                f"Not a redirect URI pattern: {line!r}. Write https://host/path, "
                "or http://127.0.0.1:* for any loopback port."
            )
    return entries


def redirect_allowed(uri, entries):
    """Whether ``uri`` matches one of the allow-list ``entries``."""
    if not is_storable_uri(uri):
        return False
    parts = urlsplit(uri)
    try:
        port = parts.port
    except ValueError:
        return False
    if not parts.hostname or parts.fragment or parts.username or parts.password:
        return False
    for entry in entries:
        scheme, host, entry_port, path = ENTRY.match(entry).groups()
        if parts.scheme != scheme.lower() or parts.hostname != host.lower():
            continue
        if entry_port == "*":
            if port is None:
                continue
        elif (port or _default_port(parts.scheme)) != (
            int(entry_port) if entry_port else _default_port(scheme.lower())
        ):
            continue
        if path and path != "/" and (parts.path != path or parts.query):
            continue
        return True
    return False


def is_storable_uri(uri):
    """One URI fit to store: a stored list is split on whitespace, and
    PostgreSQL refuses a NUL."""
    return (
        isinstance(uri, str)
        and 0 < len(uri) <= MAX_URI
        and not FORBIDDEN_IN_LINE.search(uri)
        and not NOT_IN_URI.search(uri)
    )


def is_client_name(name):
    """A name fit to store and show on the consent page (PostgreSQL refuses a NUL)."""
    return (
        isinstance(name, str)
        and len(name) <= MAX_NAME
        and not FORBIDDEN_IN_LINE.search(name)
    )


def _default_port(scheme):
    return 443 if scheme == "https" else 80


def _storable_uri(uri):
    if not is_storable_uri(uri):
        raise ValueError(
            f"A redirect URI holds 1 to {MAX_URI} characters, without spaces or "
            "control characters."
        )
    return uri


def _client_name(name):
    if not is_client_name(name):
        raise ValueError(
            f"A string of at most {MAX_NAME} characters, without control characters."
        )
    return name


StorableUri = Annotated[str, AfterValidator(_storable_uri)]
ClientName = Annotated[str, AfterValidator(_client_name)]
GrantType = Literal["authorization_code", "refresh_token"]


class ClientRegistration(BaseModel):
    """The RFC 7591 metadata Odoo reads; other metadata is ignored, as the RFC
    asks of a server that does not support it."""

    model_config = ConfigDict(extra="ignore", strict=True)

    redirect_uris: Annotated[
        list[StorableUri], Field(min_length=1, max_length=MAX_REDIRECT_URIS)
    ]
    token_endpoint_auth_method: Literal[AUTH_METHODS] = "client_secret_basic"
    grant_types: list[GrantType] = ["authorization_code"]
    response_types: Annotated[
        list[Literal["code"]], Field(min_length=1, max_length=1)
    ] = ["code"]
    client_name: ClientName | None = None


def validate_registration(metadata, entries):
    """The client to register from RFC 7591 ``metadata``, or RegistrationError."""
    if not isinstance(metadata, dict):
        raise RegistrationError(
            "invalid_client_metadata", "Send the client metadata as a JSON object."
        )
    try:
        client = ClientRegistration.model_validate(metadata)
    except ValidationError as error:
        problem = problems_of(error)[0]
        if problem["field"].startswith("redirect_uris"):
            raise RegistrationError(
                "invalid_redirect_uri",
                f"List 1 to {MAX_REDIRECT_URIS} redirect_uris: {problem['message']}",
            ) from None
        raise RegistrationError(
            "invalid_client_metadata", f"{problem['field']}: {problem['message']}"
        ) from None
    refused = [
        uri for uri in client.redirect_uris if not redirect_allowed(uri, entries)
    ]
    if refused:
        raise RegistrationError(
            "invalid_redirect_uri",
            f"Redirect URI not allowed here: {refused[0]}. An Odoo "
            "administrator can add it to the OAuth redirect allow-list in Settings.",
        )
    return {
        "client_name": client.client_name or urlsplit(client.redirect_uris[0]).hostname,
        "redirect_uris": client.redirect_uris,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "grant_types": sorted(set(client.grant_types) | {"authorization_code"}),
    }


def counted_network(address):
    """Where a registration comes from, as its limit counts it: the IPv4
    address, or the IPv6 /64 (an IPv4-mapped IPv6 address is its IPv4 one)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return "unknown"
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    prefix = IPV6_COUNTED_PREFIX if ip.version == 6 else 32
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
