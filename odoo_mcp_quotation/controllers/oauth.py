"""OAuth 2.1 for MCP clients such as Claude's connectors: discovery, consent,
tokens, registration and revocation.

Thin: oauthlib (through ``services/oauth_server.py``) judges every request;
this controller turns HTTP into its calls, shows Odoo's login and consent
pages, and writes its answers. The user logs in with Odoo's own login page,
two-factor authentication included.
"""

import hashlib
from urllib.parse import urlencode, urlsplit

import werkzeug.utils
from oauthlib.common import add_params_to_uri
from oauthlib.oauth2.rfc6749 import errors

from odoo import http
from odoo.http import request

from ..lib import client_metadata, scopes
from ..lib.client_registration import (
    RegistrationError,
    counted_network,
    validate_registration,
)
from ..lib.json_body import JsonBodyError, parse_json
from ..lib.settings import read_setting
from ..models.mcp_oauth_client import FetchBusy
from ..services.oauth_server import (
    AUTHORIZE_PATH,
    McpAuthorizationServer,
    OauthPolicy,
    metadata_endpoint,
)
from .request_body import read_body

MAX_REGISTRATION_BYTES = 16 * 1024
# the consent and error pages: never in a frame (clickjacking), never cached
PAGE_HEADERS = [
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "frame-ancestors 'none'"),
    ("Cache-Control", "no-store"),
]
NO_STORE = (("Cache-Control", "no-store"),)
# discovery and tokens may be read by a web page's script; registration may
# not (a page would register clients through its visitors' browsers)
JSON_HEADERS = (*NO_STORE, ("Access-Control-Allow-Origin", "*"))


def _json(body, status=200, headers=NO_STORE):
    return request.make_json_response(body, status=status, headers=headers)


def _oauth_error(error, description, status=400, headers=NO_STORE):
    return _json({"error": error, "error_description": description}, status, headers)


class OauthController(http.Controller):
    # ------------------------------------------------------------ discovery
    @http.route(
        [
            "/.well-known/oauth-protected-resource",
            "/.well-known/oauth-protected-resource/mcp",
        ],
        type="http",
        auth="public",
        methods=["GET"],
        csrf=False,
        save_session=False,
    )
    def protected_resource_metadata(self):
        policy = self._policy()
        if not policy.enabled:
            return request.not_found()
        return _json(policy.protected_resource_metadata(), headers=JSON_HEADERS)

    @http.route(
        "/.well-known/oauth-authorization-server",
        type="http",
        auth="public",
        methods=["GET"],
        csrf=False,
        save_session=False,
    )
    def authorization_server_metadata(self):
        policy = self._policy()
        if not policy.enabled:
            return request.not_found()
        endpoint = metadata_endpoint(request.env, policy)
        return self._oauthlib_response(
            *endpoint.create_metadata_response(policy.issuer)
        )

    # ------------------------------------------------------------ consent
    @http.route(
        AUTHORIZE_PATH,
        type="http",
        auth="public",
        methods=["GET", "POST"],
        sitemap=False,
    )
    def authorize(self, **params):
        """GET: check the request, log in, show the consent page.
        POST (the consent form, CSRF-checked by Odoo): Allow or Deny.

        Nothing is sent to the client's redirect URI before the user has
        logged in and the client and that URI are validated: until then every
        error is shown here (OAuth 2.1, RFC 9700's open redirector)."""
        policy = self._policy()
        if not policy.enabled:
            return request.not_found()
        decision = params.pop("decision", None)
        params.pop("csrf_token", None)
        uri = f"{policy.issuer}{AUTHORIZE_PATH}?{urlencode(params)}"
        if request.env.user._is_public():
            return self._before_login(uri, policy, params.get("client_id"))
        validated = {}
        try:
            client = self._authorizing_client(params.get("client_id"))
            server = McpAuthorizationServer(
                request.env, policy, {client.client_id: client}
            )
            requested, info = server.validate_authorization_request(uri)
            validated["redirect_uri"] = info["redirect_uri"]
            granted = self._granted_scopes(requested, params.get("state"), client)
            if request.httprequest.method == "GET":
                return self._consent_page(params, info["redirect_uri"], granted, client)
            if decision != "allow":
                raise errors.AccessDeniedError(
                    description="The user denied the access.", state=params.get("state")
                )
        except (client_metadata.ClientMetadataError, errors.OAuth2Error) as error:
            return self._refusal(error, validated.get("redirect_uri"), policy)
        client = client._store_metadata()
        server = McpAuthorizationServer(request.env, policy, {client.client_id: client})
        headers, _body, _status = server.create_authorization_response(
            uri, scopes=granted.split(), credentials={"user": request.env.user}
        )
        return self._redirect(headers["Location"], policy)

    def _refusal(self, error, redirect_uri, policy):
        """An error page, or, once the client and its redirect URI are
        validated, the OAuth error sent back to the client."""
        if isinstance(error, FetchBusy):
            response = self._error_page(str(error), 503)
            response.headers["Retry-After"] = str(error.wait)
            return response
        if isinstance(error, client_metadata.ClientMetadataError):
            return self._error_page(str(error))
        if isinstance(error, errors.FatalClientError):
            return self._error_page(self._description(error))
        return self._redirect(error.in_uri(redirect_uri or error.redirect_uri), policy)

    def _before_login(self, uri, policy, client_id):
        """Check what can be checked without the user, then on to Odoo's login
        page. A client known by a metadata document is not fetched for an
        anonymous visitor: its redirect URI is held to the allow-list now,
        and to its document after login."""
        try:
            if client_metadata.is_metadata_url(client_id):
                client_metadata.parse_client_id(client_id)
            server = McpAuthorizationServer(request.env, policy, defer_documents=True)
            server.validate_authorization_request(uri)
        except client_metadata.ClientMetadataError as error:
            return self._error_page(str(error))
        except errors.OAuth2Error as error:
            return self._error_page(self._description(error))
        login = {"redirect": uri[len(policy.issuer) :]}
        return request.redirect(f"/web/login?{urlencode(login)}", 303)

    def _authorizing_client(self, client_id):
        """The client the logged-in user is asked about; a portal user, who
        can connect nothing, never makes Odoo fetch a document."""
        clients = request.env["mcp.oauth.client"].sudo()
        if request.env.user.share and client_metadata.is_metadata_url(client_id):
            raise client_metadata.ClientMetadataError(
                "Portal users cannot connect AI agents."
            )
        return clients._authorizing(client_id) if client_id else clients

    def _granted_scopes(self, requested, state, client):
        """What the user may let the app do: the scopes asked for, within the
        user's own and the app's; portal users connect nothing."""
        user = request.env.user
        if user.share:
            raise errors.AccessDeniedError(
                description="Portal users cannot connect AI agents.", state=state
            )
        granted = scopes.format_scopes(
            client._scope_limit(set(requested) & user._ai_agent_scope_set())
        )
        if not granted:
            raise errors.InvalidScopeError(
                description="Your Odoo user, or this app, may not use the requested "
                "scopes: ask an administrator to allow them on your user or on the "
                "app (Sales > AI Quotations > OAuth Clients).",
                state=state,
            )
        return granted

    def _consent_page(self, params, redirect_uri, granted, client):
        values = {
            "client": client,
            "redirect_host": urlsplit(redirect_uri).hostname,
            "document_host": client.kind == "metadata_document"
            and client_metadata.host_of(client.client_id),
            "scopes": [
                (name, request.env._(scopes.SCOPES[name])) for name in granted.split()
            ],
            "params": params,
            "user": request.env.user,
            "company": request.env.company,
        }
        response = request.render("odoo_mcp_quotation.oauth_consent", values)
        response.headers.extend(PAGE_HEADERS)
        return response

    @staticmethod
    def _description(error):
        """What oauthlib says, or at least which OAuth error it is."""
        return error.description or f"The app's request is refused ({error.error})."

    def _error_page(self, message, status=400):
        response = request.render(
            "odoo_mcp_quotation.oauth_error", {"message": message}, status=status
        )
        response.headers.extend(PAGE_HEADERS)
        return response

    def _redirect(self, location, policy):
        """Back to the client, with the issuer (RFC 9207) against mix-ups."""
        location = add_params_to_uri(location, [("iss", policy.issuer)])
        return werkzeug.utils.redirect(location, 302)

    # ------------------------------------------------------------ machines
    @http.route(
        "/oauth/token",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def token(self, **_params):
        policy = self._policy()
        if not policy.enabled:
            return _oauth_error("unsupported_grant_type", "OAuth is disabled.")
        server = McpAuthorizationServer(request.env, policy)
        headers, body, status = server.create_token_response(
            request.httprequest.url, "POST", self._form_body(), self._headers()
        )
        return self._oauthlib_response(headers, body, status)

    @http.route(
        "/oauth/revoke",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def revoke(self, **_params):
        policy = self._policy()
        if not policy.enabled:
            return _oauth_error("invalid_request", "OAuth is disabled.")
        server = McpAuthorizationServer(request.env, policy)
        headers, body, status = server.create_revocation_response(
            request.httprequest.url, "POST", self._form_body(), self._headers()
        )
        return self._oauthlib_response(headers, body, status)

    @http.route(
        "/oauth/register",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def register(self):
        """RFC 7591, for redirect URIs on the administrators' allow-list."""
        policy = self._policy()
        if not policy.enabled:
            return _oauth_error("invalid_request", "OAuth is disabled.", 403)
        httprequest = request.httprequest
        if httprequest.mimetype != "application/json":
            return _oauth_error(
                "invalid_client_metadata",
                "Send the client metadata as a JSON object, with "
                "Content-Type: application/json.",
                415,
            )
        wait = self._registration_wait(httprequest.remote_addr)
        if wait:
            response = _oauth_error(
                "temporarily_unavailable",
                f"Too many registrations: retry in {wait} s.",
                429,
            )
            response.headers["Retry-After"] = str(wait)
            return response
        try:
            metadata = parse_json(
                read_body(httprequest, MAX_REGISTRATION_BYTES), MAX_REGISTRATION_BYTES
            )
        except JsonBodyError as error:
            return _oauth_error(
                "invalid_client_metadata",
                f"{error.reason} Send the client metadata as a JSON object of at "
                f"most {MAX_REGISTRATION_BYTES // 1024} KiB.",
            )
        try:
            values = validate_registration(metadata, policy.redirect_allow_list)
        except RegistrationError as error:
            return _oauth_error(error.error, error.description)
        client, secret = request.env["mcp.oauth.client"]._register_client(values)
        body = {
            "client_id": client.client_id,
            "client_id_issued_at": int(client.create_date.timestamp()),
            "client_name": client.name,
            "redirect_uris": values["redirect_uris"],
            "grant_types": values["grant_types"],
            "response_types": ["code"],
            "token_endpoint_auth_method": values["token_endpoint_auth_method"],
        }
        if secret:
            body.update(client_secret=secret, client_secret_expires_at=0)
        return _json(body, 201)

    # ------------------------------------------------------------ helpers
    def _registration_wait(self, address):
        """Seconds to wait before registering from ``address``: counted per
        IPv4 address or IPv6 /64, then, for what that allows, against every
        address at once (so that one address cannot spend everyone's budget,
        and many addresses cannot grow the table past it)."""
        limits = request.env["quotation.rate.limit"].sudo()
        network, everyone = (
            hashlib.sha256(f"oauth-register:{where}".encode()).hexdigest()
            for where in (counted_network(address), "everyone")
        )
        return limits._hit(
            network, read_setting(request.env, "oauth_registrations_per_minute")
        ) or limits._hit(
            everyone, read_setting(request.env, "oauth_registrations_per_minute_total")
        )

    def _policy(self):
        return OauthPolicy(request.env, request.httprequest.host_url)

    def _form_body(self):
        """The form as oauthlib reads it (Odoo already parsed the stream)."""
        return urlencode(list(request.httprequest.form.items(multi=True)))

    def _headers(self):
        return dict(request.httprequest.headers)

    def _oauthlib_response(self, headers, body, status):
        return request.make_response(
            body or "",
            headers=list((dict(JSON_HEADERS) | headers).items()),
            status=status,
        )
