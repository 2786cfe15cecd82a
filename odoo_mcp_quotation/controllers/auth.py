"""Bearer authentication for machine clients: Odoo's own user API keys, and
the OAuth access tokens of this addon's authorization server (MCP only).

Odoo 18's ``auth='bearer'`` answers a bad key with an HTML page; agents need a
JSON answer with ``WWW-Authenticate``. So routes are ``auth='none'`` and call
:func:`authenticate` first: the request then runs as the key's (or the
authorising) user, with that user's access rights and companies, never as
superuser, and within that user's scopes (``lib/scopes.py``).
"""

import hashlib
import re

from odoo.http import request
from odoo.tools import SQL

from odoo.addons.base.models.res_users import INDEX_SIZE

from ..lib import scopes
from ..lib.settings import read_setting
from ..services.oauth_server import ACCESS_PREFIX, secret_hash

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
VERIFIED_KEYS_MAX = 1024
# (database, sha256 of a key) -> user id, for keys this process already verified
_verified_keys = {}


class Unauthenticated(Exception):
    """No usable ``Authorization: Bearer <API key>``; the message says what to do."""


class RateLimited(Exception):
    """The key used up its requests for the minute; ``wait`` seconds to go."""

    def __init__(self, wait):
        super().__init__(f"Rate limit reached: retry in {wait} s.")
        self.wait = wait


def bearer_token():
    match = BEARER.match(request.httprequest.headers.get("Authorization") or "")
    return match.group(1) if match else None


def authenticate(resource=None, messages=1):
    """Run the request as the token's user, within its rate limit; return the
    scopes it grants.

    OAuth access tokens are accepted only where ``resource`` (the URL of the
    MCP server) is given, and only when they were issued for it (RFC 8707).
    ``messages`` is how many requests it counts for (a JSON-RPC batch counts
    each of its messages). Raises Unauthenticated (answer 401) or RateLimited
    (answer 429).
    """
    token = bearer_token()
    if not token:
        raise Unauthenticated(
            "Send an Odoo API key as 'Authorization: Bearer <key>' "
            "(Preferences > Account Security > New API Key)."
        )
    if token.startswith(ACCESS_PREFIX):
        uid, granted = _oauth_user(token, resource)
    else:
        verified = _verified_user(token, messages)
        if verified is not None:
            return verified
        uid, granted = _api_key_user(token)
    _count_request(token, messages, uid)
    return granted


def _api_key_user(token):
    uid = request.env["res.users.apikeys"]._check_credentials(scope="rpc", key=token)
    if not uid:
        raise Unauthenticated("The API key is not valid or was revoked.")
    if request.env["res.users"].sudo().browse(uid).share:
        raise Unauthenticated(
            "The API key belongs to a portal user: use the key of an internal "
            "user (a salesperson)."
        )
    _remember(token, uid)
    return uid, request.env["res.users"].browse(uid)._ai_agent_scope_set()


def _oauth_user(token, resource):
    """The user and scopes of a live OAuth access token: one indexed query on
    the token's hash, as cheap as the API-key check. The scopes are those the
    user consented to, within what the user may use today."""
    if resource is None:
        raise Unauthenticated(
            "OAuth access tokens are for the MCP server (/mcp); the REST API "
            "takes an Odoo API key."
        )
    if not read_setting(request.env, "oauth_enabled"):
        raise Unauthenticated("OAuth is disabled on this Odoo: use an API key.")
    cr = request.env.cr
    cr.execute(
        """
        SELECT g.user_id, g.scopes, u.ai_agent_scopes, c.allowed_scopes,
               g.resource, g.id,
               g.last_used_at IS NULL
               OR g.last_used_at < now() AT TIME ZONE 'utc' - interval '5 minutes'
          FROM mcp_oauth_token t
          JOIN mcp_oauth_grant g ON g.id = t.grant_id
          JOIN mcp_oauth_client c ON c.id = g.client_id
          JOIN res_users u ON u.id = g.user_id
         WHERE t.token_hash = %s AND t.kind = 'access'
           AND t.expires_at > now() AT TIME ZONE 'utc'
           AND g.active AND c.active AND u.active AND NOT u.share
        """,
        [secret_hash(token)],
    )
    row = cr.fetchone()
    if not row:
        raise Unauthenticated(
            "The access token is not valid, expired or was revoked: refresh it "
            "or authorize again."
        )
    uid, granted, allowed, client_allowed, token_resource, grant_id, stale = row
    if token_resource != resource:
        raise Unauthenticated(
            f"The access token was issued for {token_resource}, not {resource}."
        )
    if stale:  # "last used" for the user's connected apps, at most every 5 min
        cr.execute(
            "UPDATE mcp_oauth_grant SET last_used_at = now() AT TIME ZONE 'utc' "
            "WHERE id = %s",
            [grant_id],
        )
    granted = scopes.parse(granted, False) & scopes.parse(allowed, False)
    if client_allowed:  # what admins allow the app (mcp.oauth.client)
        granted &= scopes.parse(client_allowed, False)
    return uid, granted


def _count_request(token, messages, uid, check=None):
    """Run the request as ``uid`` and count it against its key's and its
    user's budgets, shared by all workers and servers (REST, MCP).

    With ``check`` (a query), in the same statement and only if the check
    finds a row: return that row, or None (nothing counted, the request still
    anonymous).
    """
    row, wait = (
        request.env["quotation.rate.limit"]
        .sudo()
        ._hit_if(
            check,
            hashlib.sha256(token.encode()).hexdigest(),
            read_setting(request.env, "rate_limit_per_minute"),
            user_id=uid,
            user_limit=read_setting(request.env, "rate_limit_per_user_per_minute"),
            count=messages,
        )
    )
    if row is None:
        return None
    request.update_env(user=uid)
    if wait:
        raise RateLimited(wait)
    return row


def _cache_key(token):
    return request.env.cr.dbname, hashlib.sha256(token.encode()).digest()


def _verified_user(token, messages):
    """The scopes of a key this process already verified, if it is still
    valid; the request is then counted and runs as the key's user.

    Odoo checks a key with 6,000 PBKDF2 rounds (~5-20 ms of CPU) on every
    request; after one such proof, comparing the SHA-256 of the whole key is
    as strong, and one indexed query, folded into the rate-limit count's
    statement, still sees a revoked or expired key, an archived user or one
    made a portal user at once. Only digests are kept, never keys.
    """
    uid = _verified_keys.get(_cache_key(token))
    if not uid:
        return None
    row = _count_request(token, messages, uid, check=_live_key_query(uid, token))
    if row is not None:
        return scopes.parse(row[0], strict=False)
    _verified_keys.pop(_cache_key(token), None)
    return None


def _live_key_query(uid, token):
    """The ``ai_agent_scopes`` of ``uid`` while ``token``, already verified as
    its key, is one ``res.users.apikeys._check_credentials(scope="rpc")``
    still accepts, held by an internal user; else no row. That check's query
    without its hash (tests/test_auth.py fails when Odoo's own check decides
    otherwise)."""
    return SQL(
        """
        SELECT u.ai_agent_scopes
          FROM res_users_apikeys k JOIN res_users u ON u.id = k.user_id
         WHERE u.active AND NOT u.share AND k.user_id = %s AND k.index = %s
           AND (k.scope IS NULL OR k.scope = 'rpc')
           AND (k.expiration_date IS NULL
                OR k.expiration_date >= now() AT TIME ZONE 'utc')
        """,
        uid,
        token[:INDEX_SIZE],
    )


def _remember(token, uid):
    if len(_verified_keys) >= VERIFIED_KEYS_MAX:
        _verified_keys.clear()
    _verified_keys[_cache_key(token)] = uid
