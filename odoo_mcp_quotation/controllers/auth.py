"""Bearer authentication with Odoo's own user API keys, for machine clients.

Odoo 18's ``auth='bearer'`` answers a bad key with an HTML page; agents need a
JSON answer with ``WWW-Authenticate``. So routes are ``auth='public'`` and call
:func:`authenticate` first: the request then runs as the key's user, with that
user's access rights and companies, never as superuser.
"""

import re

from odoo.http import request

BEARER = re.compile(r"^bearer\s+(\S+)\s*$", re.IGNORECASE)
WWW_AUTHENTICATE = 'Bearer realm="odoo", error="invalid_token"'


class Unauthenticated(Exception):
    """No usable ``Authorization: Bearer <API key>``; the message says what to do."""


def bearer_token():
    match = BEARER.match(request.httprequest.headers.get("Authorization") or "")
    return match.group(1) if match else None


def authenticate():
    """Switch the request's environment to the API key's user; return the key."""
    token = bearer_token()
    if not token:
        raise Unauthenticated(
            "Send an Odoo API key as 'Authorization: Bearer <key>' "
            "(Preferences > Account Security > New API Key)."
        )
    uid = request.env["res.users.apikeys"]._check_credentials(scope="rpc", key=token)
    if not uid:
        raise Unauthenticated("The API key is not valid or was revoked.")
    request.update_env(user=uid)
    return token
