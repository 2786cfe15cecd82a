"""MCP over HTTP: Streamable HTTP at /mcp, legacy HTTP+SSE at /mcp/sse.

Thin transports: check the Origin, authenticate the API key or OAuth access
token, check the scope a call needs, hand the body to the protocol layer, and
write its reply. Machine clients carry no cookie, so no Odoo web session is
read or saved.
"""

from werkzeug.datastructures import Headers

from odoo import http
from odoo.http import request

from ..mcp import protocol
from ..mcp.tools import Sessions, mcp_server, missing_scope
from ..services import scopes
from ..services.oauth_server import OauthPolicy
from .auth import RateLimited, Unauthenticated, authenticate, bearer_token

ALLOWED_ORIGINS_PARAM = "odoo_mcp_quotation.mcp_allowed_origins"


class McpController(http.Controller):
    @http.route(
        "/mcp",
        type="http",
        auth="public",
        methods=["GET", "POST", "DELETE"],
        csrf=False,
        save_session=False,
    )
    def mcp(self, **_query):
        reply, granted = self._guard()
        if reply:
            return self._respond(reply)
        httprequest = request.httprequest
        sessions = Sessions(request.env, "streamable_http")
        if httprequest.method == "GET":
            reply = protocol.serve_get()
        elif httprequest.method == "DELETE":
            reply = protocol.serve_delete(httprequest.headers, sessions)
        else:
            body = httprequest.get_data()
            reply = self._insufficient_scope(body, granted) or protocol.serve_post(
                mcp_server(granted),
                httprequest.headers,
                body,
                request.env,
                sessions,
            )
        return self._respond(reply)

    @http.route(
        "/mcp/sse",
        type="http",
        auth="public",
        methods=["GET"],
        csrf=False,
        save_session=False,
    )
    def mcp_sse(self, **_query):
        """Legacy transport: the stream; answers to /mcp/messages arrive here."""
        reply, _granted = self._guard()
        if reply:
            return self._respond(reply)
        session = request.env["mcp.session"]._open("sse", "2024-11-05")
        endpoint = f"/mcp/messages?session_id={session.session_key}"
        # the raw WSGI environ holds the client socket, as bus/websocket.py reads it
        environ = request.httprequest._HTTPRequest__environ
        client_socket = environ.get("socket")
        return request.make_response(
            session._sse_stream(endpoint, client_socket),
            headers=[
                ("Content-Type", "text/event-stream"),
                ("Cache-Control", "no-cache, no-transform"),
                ("X-Accel-Buffering", "no"),  # nginx: do not buffer the stream
            ],
        )

    @http.route(
        "/mcp/messages",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def mcp_messages(self, session_id=None, **_query):
        """Legacy transport: 202 at once, the answer goes to the session's stream."""
        reply, granted = self._guard()
        if reply:
            return self._respond(reply)
        body = request.httprequest.get_data()
        reply = self._insufficient_scope(body, granted)
        if reply:
            return self._respond(reply)
        sessions = Sessions(request.env, "sse")
        reply, answers = protocol.serve_sse_message(
            mcp_server(granted),
            body,
            request.env,
            sessions,
            session_id,
        )
        session = request.env["mcp.session"]._find(session_id)
        for answer in answers:
            session._push(answer)
        return self._respond(reply)

    # ------------------------------------------------------------------ helpers
    def _guard(self):
        """403 for a foreign Origin, 401 without a valid key or token (pointing
        OAuth clients to the resource metadata), 429 over its rate limit, 413
        for a body announced over the limit (not read at all); else run as the
        token's user and return its scopes."""
        origin = request.httprequest.headers.get("Origin")
        if not protocol.origin_allowed(origin, self._allowed_origins()):
            return protocol.forbidden_origin_reply(origin), None
        policy = self._policy()
        try:
            granted = authenticate(resource=policy.resource)
        except Unauthenticated as error:
            challenge = self._challenge(
                policy,
                error="invalid_token" if bearer_token() else None,
                scope=" ".join(sorted(scopes.ALL)),
            )
            return protocol.unauthenticated_reply(str(error), challenge), None
        except RateLimited as error:
            return protocol.rate_limited_reply(str(error), error.wait), None
        if (request.httprequest.content_length or 0) > protocol.MAX_MESSAGE_BYTES:
            return protocol.too_large_reply(), None
        return None, granted

    def _policy(self):
        return OauthPolicy(request.env, request.httprequest.host_url)

    def _challenge(self, policy, error=None, scope=None):
        """``WWW-Authenticate`` for MCP: where OAuth clients find how to get in
        (RFC 9728), and what they lack."""
        parts = [f'error="{error}"'] if error else []
        if scope:
            parts.append(f'scope="{scope}"')
        parts.append(f'resource_metadata="{policy.resource_metadata_url()}"')
        return "Bearer " + ", ".join(parts)

    def _insufficient_scope(self, body, granted):
        """403 ``insufficient_scope`` naming the scope needed, so that clients
        that support step-up authorization can ask for it."""
        needed = missing_scope(body, granted)
        if not needed:
            return None
        return protocol.HttpReply(
            403,
            protocol.error_response(
                None,
                protocol.FORBIDDEN,
                f"This call needs the scope {needed}, which this key or token "
                "was not granted: authorize again with it, or ask an Odoo "
                "administrator to allow it for your user.",
            ),
            {
                "WWW-Authenticate": self._challenge(
                    self._policy(), error="insufficient_scope", scope=needed
                )
            },
        )

    def _allowed_origins(self):
        params = request.env["ir.config_parameter"].sudo()
        configured = params.get_param(ALLOWED_ORIGINS_PARAM) or ""
        allowed = {origin.strip() for origin in configured.split(",") if origin.strip()}
        allowed.add(params.get_param("web.base.url") or "")
        return allowed

    def _respond(self, reply):
        headers = Headers(reply.headers)
        body = reply.content()
        if headers.get("Content-Type") == "text/event-stream":
            body = protocol.sse_event(body.decode())
        elif body:
            headers["Content-Type"] = "application/json"
        return request.make_response(
            body, headers=list(headers.items()), status=reply.status
        )
