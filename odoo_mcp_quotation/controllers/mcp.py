"""MCP over HTTP: Streamable HTTP at /mcp, legacy HTTP+SSE at /mcp/sse.

Thin transports: check the Origin, authenticate the API key or OAuth access
token (each JSON-RPC message of a batch counts against its rate limit), check
the scope a call needs, hand the decoded body to the protocol layer, and
write its reply. Machine clients carry no cookie, so no Odoo web session is
read or saved; routes are ``auth="none"`` because :func:`authenticate` sets
the user (Odoo's public user would cost a query).
"""

from werkzeug.datastructures import Headers

from odoo import http
from odoo.http import request

from ..lib import scopes
from ..lib.json_body import JsonBodyError
from ..lib.settings import read_setting
from ..mcp import errors, sse, streamable_http, transport_security
from ..mcp.framing import EVENT_STREAM
from ..services import mcp_streams
from ..services.mcp_server import mcp_server
from ..services.mcp_session_store import McpSessionStore
from ..services.oauth_server import OauthPolicy
from .auth import (
    AGENT_ROUTE,
    RateLimited,
    Unauthenticated,
    authenticate,
    bearer_token,
)
from .build_after_answer import build_after_answer, deferring_wake_up
from .request_body import read_body

STREAM_HEADERS = [
    ("Content-Type", EVENT_STREAM),
    ("Cache-Control", "no-cache, no-transform"),
    ("X-Accel-Buffering", "no"),  # nginx: do not buffer the stream
]


def _request_socket(environ):
    """The client socket in a prefork worker, which serves with werkzeug's own
    request handler (no ``socket`` in the environ): the one under the body's
    stream. Without it a stream outlives its client until a keep-alive fails."""
    stream = environ.get("wsgi.input")
    return getattr(getattr(stream, "raw", None), "_sock", None)


def _client_socket():
    """The raw WSGI environ holds the client socket, as bus/websocket.py reads it."""
    environ = request.httprequest._HTTPRequest__environ
    return environ.get("socket") or _request_socket(environ)


class McpController(http.Controller):
    @http.route("/mcp", methods=["GET", "POST", "DELETE"], **AGENT_ROUTE)
    def mcp(self, **_query):
        httprequest = request.httprequest
        payload, reply = None, None
        if httprequest.method == "POST":
            payload, reply = self._read_payload()
        refused, granted = self._guard(streamable_http.message_count(payload))
        reply = refused or reply or self._insufficient_scope(payload, granted)
        if reply:
            return self._respond(reply)
        sessions = McpSessionStore(request.env, "streamable_http", _client_socket())
        if httprequest.method == "GET":
            reply = streamable_http.serve_get()
        elif httprequest.method == "DELETE":
            reply = streamable_http.serve_delete(httprequest.headers, sessions)
        else:
            server = mcp_server(granted)
            session_id = httprequest.headers.get("Mcp-Session-Id")
            env = sessions.tool_env(session_id, payload)
            writes = server.calls_writing_tool(payload)
            try:
                reply = streamable_http.serve_post(
                    server,
                    httprequest.headers,
                    payload,
                    deferring_wake_up(env) if writes else env,
                    sessions,
                )
            except Exception:  # Odoo may serve the request again: it takes its own
                if sessions.held:
                    sessions.held.close()
                raise
            if reply.elicitation:  # answered on a stream: it wakes the crons
                session = sessions.find(session_id)
                stream = mcp_streams.elicitation_stream(
                    sessions.held, session, reply.elicitation, env
                )
                return request.make_response(stream, headers=STREAM_HEADERS)
            if sessions.held:  # taken for a question that was not asked
                sessions.held.close()
            return self._respond(reply, writes)
        return self._respond(reply)

    @http.route("/mcp/sse", methods=["GET"], **AGENT_ROUTE)
    def mcp_sse(self, **_query):
        """Legacy transport: the stream; answers to /mcp/messages arrive here.

        Live streams are capped per user and in all, and a prefork HTTP worker
        takes one only while half of the workers stay free: its slots are
        taken before it answers (``services/mcp_streams.py``, docs/mcp.md).
        """
        reply, _granted = self._guard()
        if reply:
            return self._respond(reply)
        held = mcp_streams.HeldStream(request.env, _client_socket())
        if held.refusal:
            return self._respond(
                transport_security.streams_refused_reply(*held.refusal)
            )
        session = request.env["mcp.session"]._open("sse", "2024-11-05")
        endpoint = f"/mcp/messages?session_id={session.session_key}"
        stream = mcp_streams.sse_stream(held, session, endpoint)
        return request.make_response(stream, headers=STREAM_HEADERS)

    @http.route("/mcp/messages", methods=["POST"], **AGENT_ROUTE)
    def mcp_messages(self, session_id=None, **_query):
        """Legacy transport: 202 at once, the answer goes to the session's stream."""
        payload, reply = self._read_payload()
        refused, granted = self._guard(streamable_http.message_count(payload))
        reply = refused or reply or self._insufficient_scope(payload, granted)
        if reply:
            return self._respond(reply)
        sessions = McpSessionStore(request.env, "sse")
        server = mcp_server(granted)
        env = sessions.tool_env(session_id, payload)
        writes = server.calls_writing_tool(payload)
        reply, answers = sse.serve_sse_message(
            server,
            payload,
            deferring_wake_up(env) if writes else env,
            sessions,
            session_id,
        )
        session = sessions.find(session_id)
        for answer in answers:
            session._push(answer)
        return self._respond(reply, writes)

    # ------------------------------------------------------------------ helpers
    def _read_payload(self):
        """The decoded POST body, or its error reply; a body over the limit is
        read no further (the reply still counts against the rate limit)."""
        try:
            body = read_body(request.httprequest, streamable_http.MAX_MESSAGE_BYTES)
        except JsonBodyError as error:
            return None, streamable_http.parse_error_reply(error)
        return streamable_http.decode(body)

    def _guard(self, messages=1):
        """403 for a foreign Origin, 401 without a valid key or token (pointing
        OAuth clients to the resource metadata), 429 over its rate limit
        (``messages`` JSON-RPC messages count); else run as the token's user
        and return its scopes."""
        origin = request.httprequest.headers.get("Origin")
        if not transport_security.origin_allowed(origin, self._allowed_origins):
            return transport_security.forbidden_origin_reply(origin), None
        policy = self._policy()
        try:
            granted = authenticate(resource=policy.resource, messages=messages)
        except Unauthenticated as error:
            challenge = self._challenge(
                policy,
                error="invalid_token" if bearer_token() else None,
                scope=" ".join(sorted(scopes.ALL)),
            )
            return transport_security.unauthenticated_reply(str(error), challenge), None
        except RateLimited as error:
            return transport_security.rate_limited_reply(str(error), error.wait), None
        return None, granted

    def _policy(self):
        return OauthPolicy(request.env, request.httprequest.host_url)

    def _challenge(self, policy, error=None, scope=None):
        """``WWW-Authenticate`` for MCP: what the client lacks, and, while
        OAuth is on, where OAuth clients find how to get in (RFC 9728; off,
        that document answers 404)."""
        parts = [f'error="{error}"'] if error else []
        if scope:
            parts.append(f'scope="{scope}"')
        if policy.enabled:
            parts.append(f'resource_metadata="{policy.resource_metadata_url()}"')
        return "Bearer " + ", ".join(parts)

    def _insufficient_scope(self, payload, granted):
        """403 ``insufficient_scope`` naming the scope needed, so that clients
        that support step-up authorization can ask for it."""
        needed = payload is not None and scopes.missing_scope(payload, granted)
        if not needed:
            return None
        return streamable_http.HttpReply(
            403,
            errors.error_response(
                None,
                errors.FORBIDDEN,
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
        """The listed origins and the server's own (``web.base.url``); never the
        request's Host, which a DNS-rebinding page chooses."""
        base_url = request.env["ir.config_parameter"].sudo().get_param("web.base.url")
        return {*read_setting(request.env, "mcp_allowed_origins"), base_url or ""}

    def _respond(self, reply, may_have_queued=False):
        """The reply as an HTTP response; after a call that may have queued a
        quotation, this worker may go on to build it (``build_after_answer``)."""
        headers = Headers(reply.headers)
        body = reply.content()
        if body and "Content-Type" not in headers:
            headers["Content-Type"] = "application/json"
        response = request.make_response(
            body, headers=list(headers.items()), status=reply.status
        )
        if may_have_queued and reply.status < 300:
            return build_after_answer(response)
        return response
