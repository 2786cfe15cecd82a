"""Dynamic client registration (RFC 7591): what may register, free of Odoo.

Registration is open to anyone on the internet, so it is only as open as the
redirect-URI allow-list that administrators keep: a client can only ever send
codes back to a place on that list.

Allow-list entries, separated by spaces, commas or lines: ``https://claude.ai/api/mcp/auth_callback``
matches that URL exactly; ``http://127.0.0.1:*`` matches any port and any path
on that host (loopback clients such as Claude Code pick a free port).
"""

import re
from urllib.parse import urlsplit

from .json_body import FORBIDDEN_IN_LINE

DEFAULT_ALLOWED_REDIRECTS = (
    "https://claude.ai/api/mcp/auth_callback",
    "https://claude.com/api/mcp/auth_callback",
    "http://127.0.0.1:*",
    "http://localhost:*",
)
ENTRY = re.compile(r"^(https?)://([^/:?#\s]+)(?::(\d{1,5}|\*))?(/[^?#\s]*)?$", re.I)
AUTH_METHODS = ("none", "client_secret_post", "client_secret_basic")
GRANT_TYPES = {"authorization_code", "refresh_token"}
MAX_NAME = 200
MAX_REDIRECT_URIS = 10
MAX_URI = 2000
# a URI holds no whitespace (RFC 3986), and a stored list is split on it
NOT_IN_URI = re.compile(r"\s")


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


def validate_registration(metadata, entries):
    """The client to register from RFC 7591 ``metadata``, or RegistrationError."""
    if not isinstance(metadata, dict):
        raise RegistrationError(
            "invalid_client_metadata", "Send the client metadata as a JSON object."
        )
    redirect_uris = metadata.get("redirect_uris")
    if (
        not isinstance(redirect_uris, list)
        or not redirect_uris
        or len(redirect_uris) > MAX_REDIRECT_URIS
    ):
        raise RegistrationError(
            "invalid_redirect_uri",
            f"List 1 to {MAX_REDIRECT_URIS} redirect_uris.",
        )
    refused = [uri for uri in redirect_uris if not redirect_allowed(uri, entries)]
    if refused:
        raise RegistrationError(
            "invalid_redirect_uri",
            f"Redirect URI not allowed here: {str(refused[0])[:200]}. An Odoo "
            "administrator can add it to the OAuth redirect allow-list in Settings.",
        )
    method = metadata.get("token_endpoint_auth_method", "client_secret_basic")
    if method not in AUTH_METHODS:
        raise RegistrationError(
            "invalid_client_metadata",
            f"token_endpoint_auth_method must be one of {', '.join(AUTH_METHODS)}.",
        )
    grant_types = metadata.get("grant_types", ["authorization_code"])
    if not isinstance(grant_types, list) or not set(grant_types) <= GRANT_TYPES:
        raise RegistrationError(
            "invalid_client_metadata",
            "grant_types may only hold authorization_code and refresh_token.",
        )
    if metadata.get("response_types", ["code"]) != ["code"]:
        raise RegistrationError(
            "invalid_client_metadata", "response_types must be ['code']."
        )
    name = metadata.get("client_name")
    if name is not None and not is_client_name(name):
        raise RegistrationError(
            "invalid_client_metadata",
            f"client_name must be a string of at most {MAX_NAME} characters, "
            "without control characters.",
        )
    return {
        "client_name": name or urlsplit(redirect_uris[0]).hostname,
        "redirect_uris": redirect_uris,
        "token_endpoint_auth_method": method,
        "grant_types": sorted(set(grant_types) | {"authorization_code"}),
    }
