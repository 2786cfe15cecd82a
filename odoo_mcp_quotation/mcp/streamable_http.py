"""MCP Streamable HTTP: what a POST, GET or DELETE on the endpoint answers.

No Odoo here. The Odoo controller hands over headers and the decoded body;
this module picks the revision (the ``MCP-Protocol-Version`` header, the
session's, or ``initialize``'s), serves handshake-era requests, batches
(2025-03-26) and sessions, and stateless 2026-07-28 requests, and returns an
:class:`HttpReply`. A reply whose ``elicitation`` is set is a tools/call that
asks its client first: the transport answers it with a stream it holds
(``elicitation.py``).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types
from mcp_types.version import LATEST_HANDSHAKE_VERSION, MODERN_PROTOCOL_VERSIONS

from ..lib.json_body import JsonBodyError, parse_json
from . import elicitation
from .elicitation import Elicitation
from .errors import (
    HEADER_MISMATCH,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    SESSION_NOT_FOUND,
    UNSUPPORTED_PROTOCOL_VERSION,
    error_response,
    unsupported_version_error,
)
from .framing import EVENT_STREAM, dumps, sse_event
from .server import Exchange
from .versions import (
    BATCH_VERSIONS,
    DEFAULT_VERSION,
    HANDSHAKE_HTTP_VERSIONS,
    METHOD_HEADER,
    NAME_HEADER,
    PROTOCOL_VERSION_HEADER,
    SESSION_HEADER,
    STREAMABLE_HTTP_VERSIONS,
)

# a batch is served in one worker and one transaction: keep it short
MAX_BATCH_MESSAGES = 20
# 2026-07-28 answers protocol errors with an HTTP status too (the others: 200)
MODERN_ERROR_STATUS = {
    PARSE_ERROR: 400,
    INVALID_REQUEST: 400,
    INVALID_PARAMS: 400,
    HEADER_MISMATCH: 400,
    UNSUPPORTED_PROTOCOL_VERSION: 400,
    METHOD_NOT_FOUND: 404,
}


@dataclass
class HttpReply:
    """What a transport sends back; ``body`` is JSON-serialisable or None.

    As an event stream, the ``events`` go before the body, each an event.
    """

    status: int
    body: Any = None
    headers: dict = field(default_factory=dict)
    events: list = field(default_factory=list)
    elicitation: Elicitation | None = None

    def content(self):
        if self.headers.get("Content-Type") == EVENT_STREAM:
            messages = [*self.events, self.body]
            return b"".join(sse_event(dumps(m)) for m in messages if m is not None)
        return b"" if self.body is None else dumps(self.body).encode()


def header(headers, name):
    """Headers as a plain dict in tests or werkzeug's in Odoo: case-insensitive."""
    if isinstance(headers, Mapping) and not hasattr(headers, "getlist"):
        for key, value in headers.items():
            if key.lower() == name:
                return value
        return None
    return headers.get(name)


MAX_MESSAGE_BYTES = 1024 * 1024


def decode(body):
    """The JSON payload of a POST, or the 400 (413) parse-error reply."""
    try:
        return parse_json(body or b"", MAX_MESSAGE_BYTES), None
    except JsonBodyError as error:
        return None, parse_error_reply(error)


def parse_error_reply(error):
    """The reply to a body that cannot be taken: 413 when too large, else 400."""
    return HttpReply(
        413 if error.too_large else 400,
        error_response(None, PARSE_ERROR, f"Parse error: {error.reason}"),
    )


def message_count(payload):
    """How many JSON-RPC messages a payload holds, for the rate limit."""
    return len(payload) if isinstance(payload, list) and payload else 1


def wants_event_stream(accept):
    """A client that accepts only ``text/event-stream`` gets its answer as SSE."""
    accept = (accept or "").lower()
    return (
        EVENT_STREAM in accept
        and "application/json" not in accept
        and "*/*" not in accept
    )


def is_initialize(payload):
    return isinstance(payload, dict) and payload.get("method") == "initialize"


def _handshake_version(headers, payload, sessions):
    """The revision that governs a handshake-era POST, or an error reply (400/404)."""
    session_id = header(headers, SESSION_HEADER)
    session_version = None
    if session_id and sessions is not None:
        session_version = sessions.protocol_version(session_id)
        if session_version is None:
            return None, HttpReply(
                404,
                error_response(
                    None,
                    SESSION_NOT_FOUND,
                    "Unknown or ended MCP session: initialize a new one.",
                ),
            )
    if is_initialize(payload):
        return LATEST_HANDSHAKE_VERSION, None  # negotiated in the body
    requested = header(headers, PROTOCOL_VERSION_HEADER)
    if requested is None:
        return session_version or DEFAULT_VERSION, None
    if requested not in HANDSHAKE_HTTP_VERSIONS:
        return None, HttpReply(
            400, unsupported_version_error(requested, STREAMABLE_HTTP_VERSIONS)
        )
    return requested, None


def body_version(payload):
    """The 2026-07-28 (or later) revision a request's ``_meta`` names, or None.

    Claude's connectors send such requests under an older
    ``MCP-Protocol-Version`` header (claude-code issue 93290): the body says
    what the client speaks, so it wins over the header.
    """
    params = payload.get("params") if isinstance(payload, dict) else None
    meta = params.get("_meta") if isinstance(params, dict) else None
    named = (
        meta.get(types.PROTOCOL_VERSION_META_KEY) if isinstance(meta, dict) else None
    )
    return named if named in MODERN_PROTOCOL_VERSIONS else None


def serve_post(server, headers, payload, context, sessions=None):
    """Streamable HTTP POST: one message or a batch in, JSON (or 202) out."""
    requested = header(headers, PROTOCOL_VERSION_HEADER)
    if requested not in MODERN_PROTOCOL_VERSIONS:
        requested = body_version(payload) or requested
    if requested in MODERN_PROTOCOL_VERSIONS:
        reply = _serve_modern(server, headers, payload, context, requested)
    else:
        reply = _serve_handshake(server, headers, payload, context, sessions)
    if (
        reply.events
        or reply.elicitation
        or (reply.body is not None and wants_event_stream(header(headers, "accept")))
    ):
        reply.headers["Content-Type"] = EVENT_STREAM
    return reply


def _serve_handshake(server, headers, payload, context, sessions):
    version, reply = _handshake_version(headers, payload, sessions)
    if reply:
        return reply
    exchange = Exchange(
        version=version,
        context=context,
        supported_versions=HANDSHAKE_HTTP_VERSIONS,
        sessions=sessions,
        session_id=None,  # initialize always opens a new session
    )
    session_id = header(headers, SESSION_HEADER) if sessions else None
    if session_id and not is_initialize(payload):
        exchange.shows_apps = sessions.shows_apps(session_id)
    if isinstance(payload, list):
        responses, reply = serve_batch(server, payload, exchange)
        if reply:
            return reply
    else:
        if session_id and elicitation.is_answer(payload):
            sessions.deliver(session_id, payload)
        else:
            elicitation.offer_stream(
                exchange, sessions, session_id, header(headers, "accept")
            )
        response = server.handle(payload, exchange)
        if isinstance(response, Elicitation):
            return HttpReply(200, elicitation=response)
        responses = [response] if response else []
        if response and "error" in response and response["id"] is None:
            return HttpReply(400, response)
    if not responses:
        return HttpReply(202)
    reply = HttpReply(200, responses if isinstance(payload, list) else responses[0])
    if exchange.new_session_id:
        reply.headers["Mcp-Session-Id"] = exchange.new_session_id
    return reply


def _serve_modern(server, headers, payload, context, version):
    """2026-07-28: one self-contained request per POST, no session."""
    if not isinstance(payload, dict):
        return HttpReply(
            400,
            error_response(
                None,
                INVALID_REQUEST,
                f"MCP {version} takes one JSON-RPC message per POST, never a batch.",
            ),
        )
    exchange = Exchange(
        version=version,
        context=context,
        routing={
            "method": header(headers, METHOD_HEADER),
            "name": header(headers, NAME_HEADER),
        },
    )
    response = server.handle(payload, exchange)
    if response is None:
        return HttpReply(202)
    status = 200
    if "error" in response:
        status = MODERN_ERROR_STATUS.get(response["error"]["code"], 200)
    return HttpReply(status, response, events=exchange.preamble)


def serve_batch(server, payload, exchange):
    """A 2025-03-26 batch: (responses, None), or (None, the 400 reply)."""
    refusal = None
    if exchange.version not in BATCH_VERSIONS:
        refusal = (
            f"JSON-RPC batches are not part of MCP {exchange.version}: send "
            "one message per request."
        )
    elif not payload:
        refusal = "An empty batch."
    elif len(payload) > MAX_BATCH_MESSAGES:
        refusal = (
            f"A batch of {len(payload)} messages: send at most "
            f"{MAX_BATCH_MESSAGES} per request."
        )
    if refusal:
        return None, HttpReply(400, error_response(None, INVALID_REQUEST, refusal))
    responses = []
    for message in payload:
        if is_initialize(message):
            response = error_response(
                message.get("id") if isinstance(message.get("id"), str | int) else None,
                INVALID_REQUEST,
                "initialize must be sent alone, not in a batch.",
            )
        else:
            response = server.handle(message, exchange)
        if response:
            responses.append(response)
    return responses, None


def serve_delete(headers, sessions):
    """End a session (DELETE /mcp)."""
    session_id = header(headers, SESSION_HEADER)
    if not session_id:
        return HttpReply(
            400,
            error_response(None, INVALID_REQUEST, "Send the Mcp-Session-Id to end."),
        )
    if not sessions.close(session_id):
        return HttpReply(
            404,
            error_response(
                None, SESSION_NOT_FOUND, "Unknown or already ended session."
            ),
        )
    return HttpReply(204)


def serve_get():
    """This server pushes nothing unprompted, so it opens no GET stream."""
    return HttpReply(
        405,
        error_response(
            None,
            INVALID_REQUEST,
            "GET opens no stream here: POST JSON-RPC messages to this URL "
            "(legacy SSE clients use /mcp/sse).",
        ),
        {"Allow": "POST, DELETE"},
    )
