"""Bearer authentication with Odoo's own user API keys, for machine clients.

Odoo 18's ``auth='bearer'`` answers a bad key with an HTML page; agents need a
JSON answer with ``WWW-Authenticate``. So routes are ``auth='public'`` and call
:func:`authenticate` first: the request then runs as the key's user, with that
user's access rights and companies, never as superuser.
"""

import hashlib
import re

from odoo.http import request

from odoo.addons.base.models.res_users import INDEX_SIZE

BEARER = re.compile(r"^bearer\s+(\S+)\s*$", re.IGNORECASE)
WWW_AUTHENTICATE = 'Bearer realm="odoo", error="invalid_token"'
VERIFIED_KEYS_MAX = 1024
# (database, sha256 of a key) -> user id, for keys this process already verified
_verified_keys = {}


RATE_LIMIT_PARAM = "odoo_mcp_quotation.rate_limit_per_minute"
DEFAULT_RATE_LIMIT = 60


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


def authenticate():
    """Run the request as the API key's user, within the key's rate limit.

    Raises Unauthenticated (answer 401) or RateLimited (answer 429).
    """
    token = bearer_token()
    if not token:
        raise Unauthenticated(
            "Send an Odoo API key as 'Authorization: Bearer <key>' "
            "(Preferences > Account Security > New API Key)."
        )
    uid = _verified_user(token) or request.env["res.users.apikeys"]._check_credentials(
        scope="rpc", key=token
    )
    if not uid:
        raise Unauthenticated("The API key is not valid or was revoked.")
    _remember(token, uid)
    request.update_env(user=uid)
    _count_request(token)


def _count_request(token):
    """Count the request against its key's budget, shared by all workers (REST, MCP)."""
    params = request.env["ir.config_parameter"].sudo()
    limit = params.get_param(RATE_LIMIT_PARAM)
    limit = int(limit) if limit and limit.isdigit() else DEFAULT_RATE_LIMIT
    key = hashlib.sha256(token.encode()).hexdigest()
    wait = request.env["quotation.rate.limit"].sudo()._hit(key, limit)
    if wait:
        raise RateLimited(wait)


def _cache_key(token):
    return request.env.cr.dbname, hashlib.sha256(token.encode()).digest()


def _verified_user(token):
    """The user of a key this process already verified, if it is still valid.

    Odoo checks a key with 6,000 PBKDF2 rounds (~5-20 ms of CPU) on every
    request; after one such proof, comparing the SHA-256 of the whole key is
    as strong, and one indexed query still sees a revoked or expired key or
    an archived user at once. Only digests are kept, never keys.
    """
    uid = _verified_keys.get(_cache_key(token))
    if not uid:
        return None
    request.env.cr.execute(
        """
        SELECT 1 FROM res_users_apikeys k JOIN res_users u ON u.id = k.user_id
         WHERE u.active AND k.user_id = %s AND k.index = %s
           AND (k.scope IS NULL OR k.scope = 'rpc')
           AND (k.expiration_date IS NULL
                OR k.expiration_date >= now() AT TIME ZONE 'utc')
        """,
        [uid, token[:INDEX_SIZE]],
    )
    if request.env.cr.fetchone():
        return uid
    _verified_keys.pop(_cache_key(token), None)
    return None


def _remember(token, uid):
    if len(_verified_keys) >= VERIFIED_KEYS_MAX:
        _verified_keys.clear()
    _verified_keys[_cache_key(token)] = uid
