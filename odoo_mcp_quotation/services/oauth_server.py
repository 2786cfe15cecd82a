"""The OAuth 2.1 authorization server for MCP clients, on oauthlib.

oauthlib parses the requests, runs the authorization-code, PKCE and refresh
grants and shapes the error responses; this module only tells it what Odoo
knows (clients, grants, hashed tokens) and adds what OAuth 2.1 and MCP ask
beyond RFC 6749: PKCE with S256 only, the ``resource`` indicator (RFC 8707)
bound to every grant, and single-use codes and refresh tokens whose reuse
revokes their whole grant.
"""

import base64
import functools
import hashlib
import logging
import secrets
from datetime import timedelta
from urllib.parse import unquote

from oauthlib.oauth2 import (
    AuthorizationEndpoint,
    BearerToken,
    MetadataEndpoint,
    RefreshTokenGrant,
    RequestValidator,
    RevocationEndpoint,
    TokenEndpoint,
)
from oauthlib.oauth2.rfc6749 import errors
from oauthlib.oauth2.rfc6749.grant_types.authorization_code import (
    AuthorizationCodeGrant,
    code_challenge_method_s256,
)

from ..lib import client_metadata, scopes
from ..lib.client_registration import AUTH_METHODS, redirect_allowed
from ..lib.settings import read_setting

# oauthlib logs codes and tokens at DEBUG: never let them reach a log file
logging.getLogger("oauthlib").setLevel(logging.INFO)

CODE_LIFETIME = timedelta(seconds=60)
# access tokens are told apart from Odoo API keys (40 hex digits) by their prefix
ACCESS_PREFIX = "omqa_"
REFRESH_PREFIX = "omqr_"
MCP_PATH = "/mcp"
AUTHORIZE_PATH = "/oauth/authorize"
TOKEN_PATH = "/oauth/token"
REGISTER_PATH = "/oauth/register"
REVOKE_PATH = "/oauth/revoke"
RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource"


class InvalidTargetError(errors.OAuth2Error):
    """RFC 8707: the ``resource`` is not this server's MCP endpoint."""

    error = "invalid_target"


class S256AuthorizationCodeGrant(AuthorizationCodeGrant):
    """OAuth 2.1: PKCE is required, and ``plain`` is refused."""

    _code_challenge_methods = {"S256": code_challenge_method_s256}


def secret_hash(secret):
    """Codes, tokens and client secrets are long random strings: their SHA-256
    is all that is stored, and all a lookup needs."""
    return hashlib.sha256(secret.encode()).hexdigest()


class OauthPolicy:
    """The settings and URLs of one request's authorization server; settings
    are read only when used, so the MCP hot path pays only for the URLs."""

    def __init__(self, env, base_url):
        self.env = env
        self.issuer = base_url.rstrip("/")
        self.resource = self.issuer + MCP_PATH

    @functools.cached_property
    def enabled(self):
        return read_setting(self.env, "oauth_enabled")

    @functools.cached_property
    def access_lifetime(self):
        return timedelta(minutes=read_setting(self.env, "oauth_access_token_minutes"))

    @functools.cached_property
    def refresh_lifetime(self):
        return timedelta(days=read_setting(self.env, "oauth_refresh_token_days"))

    @functools.cached_property
    def redirect_allow_list(self):
        return read_setting(self.env, "oauth_redirect_allow_list")

    def authorization_server_claims(self):
        """RFC 8414: what oauthlib cannot tell from the endpoints themselves
        (it adds the response types, grant types and PKCE methods)."""
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + AUTHORIZE_PATH,
            "token_endpoint": self.issuer + TOKEN_PATH,
            "registration_endpoint": self.issuer + REGISTER_PATH,
            "revocation_endpoint": self.issuer + REVOKE_PATH,
            "scopes_supported": sorted(scopes.ALL),
            "response_modes_supported": ["query"],
            "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "client_id_metadata_document_supported": True,
            "authorization_response_iss_parameter_supported": True,
        }

    def protected_resource_metadata(self):
        """RFC 9728, for the MCP endpoint."""
        return {
            "resource": self.resource,
            "authorization_servers": [self.issuer],
            "scopes_supported": sorted(scopes.ALL),
            "bearer_methods_supported": ["header"],
            "resource_name": "Odoo quotations (MCP)",
        }

    def resource_metadata_url(self):
        return self.issuer + RESOURCE_METADATA_PATH + MCP_PATH


class OdooRequestValidator(RequestValidator):
    """What oauthlib asks of the storage, answered from Odoo's tables.

    Each call gets oauthlib's ``request``; the Odoo records found on the way
    ride on it (``odoo_client``, ``odoo_grant``, ``odoo_secret``). Clients are
    the stored ones, or those the caller resolved (``clients``: a client known
    by a metadata document, fetched for a logged-in user); nothing here
    fetches. With ``defer_documents`` (before login) a metadata document
    client passes for now, its redirect URI checked against the allow-list
    only: the document is fetched once the user has logged in.
    """

    def __init__(self, env, policy, clients=None, defer_documents=False):
        super().__init__()
        self.env = env
        self.policy = policy
        self.resolved = clients or {}
        self.defer_documents = defer_documents
        self.clients = env["mcp.oauth.client"].sudo()
        self.tokens = env["mcp.oauth.token"].sudo()

    # ------------------------------------------------------------ clients
    def _client(self, client_id, request):
        client = getattr(request, "odoo_client", None)
        if client is None or client.client_id != client_id:
            client = self.resolved.get(client_id) or self.clients._lookup(client_id)
            request.odoo_client = client
        return client or None

    def _deferred(self, client_id):
        return (
            self.defer_documents
            and client_metadata.is_metadata_url(client_id)
            and client_id not in self.resolved
        )

    def _basic_credentials(self, request):
        header = request.headers.get("Authorization") or ""
        if not header.lower().startswith("basic "):
            return None, None
        try:
            decoded = base64.b64decode(header[6:]).decode()
        except ValueError:
            return None, None
        client_id, _sep, secret = decoded.partition(":")
        return unquote(client_id), unquote(secret)

    def client_authentication_required(self, request, *args, **kwargs):
        basic_id, _secret = self._basic_credentials(request)
        if basic_id or request.client_secret:
            return True
        client = self._client(request.client_id, request)
        return bool(client and client.token_endpoint_auth_method != "none")

    def authenticate_client(self, request, *args, **kwargs):
        client_id, secret = self._basic_credentials(request)
        if not client_id:
            client_id, secret = request.client_id, request.client_secret
        client = self._client(client_id, request)
        if not (client and client._check_secret(secret)):
            return False
        request.client = client
        request.client_id = client.client_id
        return True

    def authenticate_client_id(self, client_id, request, *args, **kwargs):
        client = self._client(client_id, request)
        if not (client and client.token_endpoint_auth_method == "none"):
            return False
        request.client = client
        return True

    def validate_client_id(self, client_id, request, *args, **kwargs):
        return self._deferred(client_id) or bool(self._client(client_id, request))

    def validate_redirect_uri(self, client_id, redirect_uri, request, *args, **kwargs):
        # the allow-list binds every client, even after it shrinks
        if not redirect_allowed(redirect_uri, self.policy.redirect_allow_list):
            return False
        if self._deferred(client_id):
            return True
        client = self._client(client_id, request)
        return bool(client) and redirect_uri in client._redirect_uri_list()

    def get_default_redirect_uri(self, client_id, request, *args, **kwargs):
        client = None if self._deferred(client_id) else self._client(client_id, request)
        uris = client._redirect_uri_list() if client else []
        if len(uris) == 1 and redirect_allowed(
            uris[0], self.policy.redirect_allow_list
        ):
            return uris[0]
        return None

    def validate_response_type(
        self, client_id, response_type, client, request, *args, **kwargs
    ):
        return response_type == "code"

    def validate_grant_type(
        self, client_id, grant_type, client, request, *args, **kwargs
    ):
        return grant_type in ("authorization_code", "refresh_token")

    def validate_scopes(self, client_id, scopes_, client, request, *args, **kwargs):
        return set(scopes_) <= scopes.ALL

    def get_default_scopes(self, client_id, request, *args, **kwargs):
        return sorted(scopes.ALL)

    def is_pkce_required(self, client_id, request):
        return True

    # ------------------------------------------------------------ codes
    def save_authorization_code(self, client_id, code, request, *args, **kwargs):
        grant = (
            self.env["mcp.oauth.grant"]
            .sudo()
            .create(
                {
                    "client_id": request.odoo_client.id,
                    "user_id": request.user.id,
                    "scopes": scopes.format_scopes(request.scopes),
                    "resource": self.policy.resource,
                }
            )
        )
        self.tokens._issue(
            grant,
            "code",
            code["code"],
            CODE_LIFETIME,
            code_challenge=request.code_challenge,
            redirect_uri=request.redirect_uri,
        )

    def _redeem(self, secret, kind, client, request):
        """The grant of an unused, unexpired ``secret``; reuse revokes it."""
        row = self.tokens._find(secret, [kind])
        if not row or row.grant_id.client_id != client:
            return False
        if row.used_at:
            row.grant_id._revoke()
            return False
        if not row._usable():
            return False
        request.odoo_grant = row.grant_id
        request.odoo_secret = row
        request.user = row.grant_id.user_id
        return True

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        if not self._redeem(code, "code", client, request):
            return False
        request.scopes = sorted(request.odoo_grant._scope_set())
        return True

    def get_code_challenge(self, code, request):
        return request.odoo_secret.code_challenge

    def get_code_challenge_method(self, code, request):
        return "S256"

    def confirm_redirect_uri(
        self, client_id, code, redirect_uri, client, request, *args, **kwargs
    ):
        return request.odoo_secret.redirect_uri == redirect_uri

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs):
        request.odoo_secret.used_at = self.env.cr.now()

    # ------------------------------------------------------------ tokens
    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        return self._redeem(refresh_token, "refresh", client, request)

    def get_original_scopes(self, refresh_token, request, *args, **kwargs):
        return sorted(request.odoo_grant._scope_set())

    def rotate_refresh_token(self, request):
        return True

    def save_bearer_token(self, token, request, *args, **kwargs):
        grant = request.odoo_grant
        if request.grant_type == "refresh_token":
            request.odoo_secret.used_at = self.env.cr.now()
        self.tokens._issue(
            grant, "access", token["access_token"], self.policy.access_lifetime
        )
        self.tokens._issue(
            grant, "refresh", token["refresh_token"], self.policy.refresh_lifetime
        )
        token["scope"] = grant.scopes
        grant.write({"connected": True, "last_used_at": self.env.cr.now()})

    def revoke_token(self, token, token_type_hint, request, *args, **kwargs):
        row = self.tokens._find(token, ["access", "refresh"])
        if row and row.grant_id.client_id == request.client:
            row.grant_id._revoke()


def _check_resource(request, policy):
    """RFC 8707: a ``resource`` names this MCP server, or is left out."""
    resource = request.resource
    if resource and resource.rstrip("/") != policy.resource:
        raise InvalidTargetError(
            description=f"This server issues tokens for {policy.resource} only.",
            request=request,
        )


class McpAuthorizationServer(AuthorizationEndpoint, TokenEndpoint, RevocationEndpoint):
    """Authorization code with S256 PKCE, rotating refresh tokens, revocation;
    every grant checks the ``resource`` (RFC 8707)."""

    def __init__(self, env, policy, clients=None, defer_documents=False):
        validator = OdooRequestValidator(env, policy, clients, defer_documents)

        def check_resource(request):
            _check_resource(request, policy)
            return {}

        code_grant = S256AuthorizationCodeGrant(
            validator, pre_auth=[check_resource], pre_token=[check_resource]
        )
        refresh_grant = RefreshTokenGrant(validator, pre_token=[check_resource])
        bearer = BearerToken(
            validator,
            token_generator=lambda _request: ACCESS_PREFIX + secrets.token_urlsafe(32),
            refresh_token_generator=lambda _request: (
                REFRESH_PREFIX + secrets.token_urlsafe(32)
            ),
            expires_in=int(policy.access_lifetime.total_seconds()),
        )
        AuthorizationEndpoint.__init__(
            self,
            default_response_type="code",
            response_types={"code": code_grant},
            default_token_type=bearer,
        )
        TokenEndpoint.__init__(
            self,
            default_grant_type="authorization_code",
            grant_types={
                "authorization_code": code_grant,
                "refresh_token": refresh_grant,
            },
            default_token_type=bearer,
        )
        RevocationEndpoint.__init__(self, validator)


def metadata_endpoint(env, policy):
    """RFC 8414 authorization server metadata, built by oauthlib from the
    endpoints that serve the requests (the claims are this module's own, so
    oauthlib's checks, which want an https issuer, are left to the tests)."""
    return MetadataEndpoint(
        [McpAuthorizationServer(env, policy)],
        claims=policy.authorization_server_claims(),
        raise_errors=False,
    )
