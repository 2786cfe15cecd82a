"""Bearer authentication at the door of the machine routes (REST and MCP).

Odoo 18's ``auth='bearer'`` answers a bad key with an HTML page; agents need a
JSON answer with ``WWW-Authenticate``. So routes are ``auth='none'`` and call
:func:`authenticate` first: who is calling is ``services/caller.py``'s to
say, the rate limit ``quotation.rate.limit``'s; the request then runs as the
caller, never as superuser.
"""

import re

from odoo.http import request

from ..services.caller import CLIENT_CONTEXT_KEY, Unauthenticated, identify

# the routes agents call (REST and MCP): ``auth="none"``, as :func:`authenticate`
# sets the user (Odoo's public user would be looked up for nothing), no web
# session, and read-write even for a read, as every request is counted
AGENT_ROUTE = {
    "type": "http",
    "auth": "none",
    "readonly": False,
    "csrf": False,
    "save_session": False,
}
# an API key or token: printable ASCII, bounded (a NUL would reach the SQL)
BEARER = re.compile(r"^bearer\s+([\x21-\x7e]{1,512})\s*$", re.IGNORECASE)
WWW_AUTHENTICATE = 'Bearer realm="odoo", error="invalid_token"'

__all__ = [
    "AGENT_ROUTE",
    "WWW_AUTHENTICATE",
    "RateLimited",
    "Unauthenticated",
    "authenticate",
    "bearer_token",
]


class RateLimited(Exception):
    """The key used up its requests for the minute; ``wait`` seconds to go."""

    def __init__(self, wait):
        super().__init__(f"Rate limit reached: retry in {wait} s.")
        self.wait = wait


def bearer_token():
    match = BEARER.match(request.httprequest.headers.get("Authorization") or "")
    return match.group(1) if match else None


def authenticate(resource=None, messages=1):
    """Run the request as its caller, within its rate limit; return the
    scopes it grants.

    ``resource``: the URL of the MCP server, where OAuth access tokens are
    accepted. ``messages`` is how many requests it counts for (a JSON-RPC
    batch counts each of its messages). Raises Unauthenticated (answer 401)
    or RateLimited (answer 429).
    """
    caller = identify(request.env, bearer_token(), resource)
    context = None
    if caller.client:  # which agent: its OAuth client's or API key's name
        context = dict(request.env.context, **{CLIENT_CONTEXT_KEY: caller.client})
    request.update_env(user=caller.uid, context=context)
    wait = request.env["quotation.rate.limit"].sudo()._spend(caller, messages)
    if wait:
        raise RateLimited(wait)
    return caller.scopes
