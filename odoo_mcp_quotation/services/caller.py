"""Who is calling a machine route, with which scopes, within which budget.

REST, MCP and the post-call webhook call this before anything else. A bearer
credential is an Odoo user API key, checked by Odoo itself
(``res.users.apikeys._check_credentials``), or an OAuth access token of this
addon's authorization server (MCP only); either becomes a :class:`Caller`:
the user the request then runs as (never superuser), the scopes it grants
(``lib/scopes.py``) and the rate-limit budget it spends
(``quotation.rate.limit``, a separate step). A webhook delivery proves
itself with its signature instead.
"""

import hashlib
from dataclasses import dataclass

from odoo.tools import SQL

from odoo.addons.base.models.res_users import INDEX_SIZE

from ..lib import scopes
from ..lib.elevenlabs_webhook import verify_signature
from ..lib.settings import read_setting
from .oauth_server import ACCESS_PREFIX, secret_hash

# The scope of keys made for this addon (New Agent Key, ``make run``): Odoo's
# XML-RPC and JSON-RPC check scope 'rpc' and refuse them. Checking this scope,
# Odoo also accepts global keys (scope NULL, Preferences > New API Key), which
# reach Odoo's RPC as well: an administrator's choice, shown on the user form.
KEY_SCOPE = "odoo_mcp_quotation"
VERIFIED_KEYS_MAX = 1024
# (database, SHA-256 of a key) -> user id, for keys this process verified
_verified_keys = {}


class Unauthenticated(Exception):
    """No usable credential; the message says what to do."""


# the context key naming the agent's client (an OAuth client's name, an API
# key's name, or what an MCP client calls itself): who changed a quotation
CLIENT_CONTEXT_KEY = "odoo_mcp_quotation_client"


@dataclass(frozen=True)
class Caller:
    """``uid`` the user the request runs as; ``scopes`` what it may do;
    ``budget`` the rate-limit key it spends (the SHA-256 of its credential);
    ``client`` the name of the OAuth client or API key, if any."""

    uid: int
    scopes: frozenset
    budget: str
    client: str | None = None


def identify(env, token, resource=None):
    """The :class:`Caller` of a bearer ``token``, or Unauthenticated.

    OAuth access tokens are accepted only where ``resource`` (the URL of the
    MCP server) is given, and only when they were issued for it (RFC 8707).
    """
    if not token:
        raise Unauthenticated(
            "Send an Odoo API key as 'Authorization: Bearer <key>' "
            "(Preferences > Account Security > New Agent Key)."
        )
    digest = hashlib.sha256(token.encode())
    if token.startswith(ACCESS_PREFIX):
        uid, granted, client = _oauth_user(env, token, resource)
    else:
        uid, granted, client = _api_key_user(env, token, digest.digest())
    return Caller(uid, frozenset(granted), digest.hexdigest(), client or None)


def identify_webhook(env, signature_header, raw):
    """The :class:`Signature` of an ElevenLabs delivery that holds with the
    configured secret; else ``SignatureInvalid``. Nothing runs as its
    sender: the delivery is queued, then landed by the webhook queue."""
    secret = read_setting(env, "elevenlabs_webhook_secret")
    return verify_signature(signature_header, raw, secret)


# ---------------------------------------------------------------- API keys
def _api_key_user(env, token, digest):
    """The user, scopes and name of an API key, as Odoo judges the key.

    Odoo checks a key with 6,000 rounds of PBKDF2 on every call; after one
    such proof this process keeps the key's SHA-256 (never the key) and then
    only checks that the key is still live, with one indexed query under
    Odoo's own rules (:func:`_live_key_scopes`): a revoked or expired key, an
    archived user or one made a portal user is refused at once.
    docs/performance.md has the figures.
    """
    cache_key = (env.cr.dbname, digest)
    uid = _verified_keys.get(cache_key)
    if uid:
        live = _live_key(env, uid, token)
        if live is not None:
            return uid, *live
        _verified_keys.pop(cache_key, None)
    uid = env["res.users.apikeys"]._check_credentials(scope=KEY_SCOPE, key=token)
    if not uid:
        raise Unauthenticated("The API key is not valid or was revoked.")
    user = env["res.users"].sudo().browse(uid)
    if user.share:
        raise Unauthenticated(
            "The API key belongs to a portal user: use the key of an internal "
            "user (a salesperson)."
        )
    if len(_verified_keys) >= VERIFIED_KEYS_MAX:
        _verified_keys.clear()
    _verified_keys[cache_key] = uid
    # the key's name (once per process and key): which agent the user runs
    _scopes, name = _live_key(env, uid, token) or (None, None)
    return uid, user._ai_agent_scope_set(), name


def _live_key(env, uid, token):
    """``(scopes of uid, the key's name)`` while ``uid`` is an active internal
    user holding a key with ``token``'s index that
    ``_check_credentials(scope=KEY_SCOPE)`` still looks among; else None.
    That check's rules without its hash, in SQL as Odoo writes them: the
    index is no ORM field (tests/test_auth.py fails where the two judge a
    key differently)."""
    found = env.execute_query(
        SQL(
            """
            SELECT u.ai_agent_scopes, k.name
              FROM res_users_apikeys k JOIN res_users u ON u.id = k.user_id
             WHERE u.active AND NOT u.share AND k.user_id = %s AND k.index = %s
               AND (k.scope IS NULL OR k.scope = %s)
               AND (k.expiration_date IS NULL
                    OR k.expiration_date >= now() AT TIME ZONE 'utc')
             LIMIT 1
            """,
            uid,
            token[:INDEX_SIZE],
            KEY_SCOPE,
        )
    )
    if not found:
        return None
    granted, name = found[0]
    return scopes.parse(granted, strict=False), name


# ---------------------------------------------------------------- OAuth
def _oauth_user(env, token, resource):
    """The user, scopes and client name of a live OAuth access token: one
    indexed query on the token's hash, as cheap as the API-key check. The
    scopes are those the user consented to, within what the user may use
    today."""
    if resource is None:
        raise Unauthenticated(
            "OAuth access tokens are for the MCP server (/mcp); the REST API "
            "takes an Odoo API key."
        )
    if not read_setting(env, "oauth_enabled"):
        raise Unauthenticated("OAuth is disabled on this Odoo: use an API key.")
    cr = env.cr
    cr.execute(
        """
        SELECT g.user_id, g.scopes, u.ai_agent_scopes, c.allowed_scopes,
               g.resource, g.id, c.name,
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
    uid, granted, allowed, client_allowed, token_resource, grant_id, client, stale = row
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
    return uid, granted, client
