"""Transport security: the Origin check against DNS rebinding, and the
replies for a refused Origin, a missing key and an exhausted rate limit.

No Odoo here; the controller says which origins are allowed and who the
caller is.
"""

from urllib.parse import urlsplit

from .errors import FORBIDDEN, RATE_LIMITED, UNAUTHENTICATED, error_response
from .streamable_http import HttpReply


def normalize_origin(origin):
    """``scheme://host[:port]`` in lower case, default ports dropped."""
    parts = urlsplit(origin.strip().rstrip("/").lower())
    try:
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}.get(parts.scheme)
    port = f":{port}" if port and port != default else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def origin_allowed(origin, allowed_origins):
    """DNS-rebinding protection: an Origin that is present must be allowed.

    Clients that are not browsers send no Origin and pass, without calling
    ``allowed_origins``, which returns the origins (``https://claude.ai``) or
    ``*`` allowed: reading them may cost the server a query.
    """
    if not origin:
        return True
    allowed = allowed_origins()
    if "*" in allowed:
        return True
    normalized = normalize_origin(origin)
    return bool(normalized) and normalized in {
        normalize_origin(a) for a in allowed if a
    }


def forbidden_origin_reply(origin):
    return HttpReply(
        403,
        error_response(
            None,
            FORBIDDEN,
            f"Origin {origin} is not allowed to use this MCP server: an Odoo "
            "administrator can add it to the allowed origins in Settings.",
        ),
    )


def unauthenticated_reply(message, www_authenticate):
    return HttpReply(
        401,
        error_response(None, UNAUTHENTICATED, message),
        {"WWW-Authenticate": www_authenticate},
    )


def streams_refused_reply(status, message, retry_after=30):
    """429 (the caller's own streams) or 503 (the server's) for one stream too many."""
    return HttpReply(
        status,
        error_response(None, RATE_LIMITED, message),
        {"Retry-After": str(retry_after)},
    )


def rate_limited_reply(message, wait):
    return HttpReply(
        429, error_response(None, RATE_LIMITED, message), {"Retry-After": str(wait)}
    )
