"""Legacy HTTP+SSE (2024-11-05): a POST to the session's message endpoint.

No Odoo here. The POST is accepted with 202 at once; what it answers is
returned to the caller, which pushes it onto the session's event stream
(``services/mcp_streams.py`` relays it, wherever that stream is held).
"""

from .errors import SESSION_NOT_FOUND, error_response
from .server import Exchange
from .streamable_http import HttpReply, serve_batch
from .versions import LEGACY_SSE_VERSIONS


def serve_sse_message(server, payload, context, sessions, session_id):
    """Returns the HTTP reply and the answers to push on the stream."""
    version = sessions.protocol_version(session_id)
    if version is None:
        return HttpReply(
            404,
            error_response(
                None, SESSION_NOT_FOUND, "Unknown or ended SSE session: reconnect."
            ),
        ), []
    exchange = Exchange(
        version=version,
        context=context,
        supported_versions=LEGACY_SSE_VERSIONS,
        sessions=sessions,
        session_id=session_id,
        shows_apps=sessions.shows_apps(session_id),
    )
    if isinstance(payload, list):
        responses, reply = serve_batch(server, payload, exchange)
        if reply:
            return reply, []
        return HttpReply(202), [responses] if responses else []
    response = server.handle(payload, exchange)
    return HttpReply(202), [response] if response else []
