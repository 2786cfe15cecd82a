"""``mcp.session`` as the MCP protocol's SessionStore (``mcp/server.py``)."""

from ..mcp.versions import reported_client_name
from . import mcp_streams
from .caller import CLIENT_CONTEXT_KEY


class McpSessionStore:
    """The caller's MCP sessions on one transport, for the protocol layer.

    A session id of the other transport is unknown here: a Streamable HTTP
    session cannot post to a legacy SSE endpoint, nor the other way round.
    ``client_socket`` is the socket a stream taken here watches, to notice at
    once that its client left.
    """

    def __init__(self, env, transport, client_socket=None):
        self.model = env["mcp.session"]
        self.transport = transport
        self.client_socket = client_socket
        self.held = None  # the stream taken for a tools/call that asks
        self._found = {}

    def find(self, session_id):
        if session_id not in self._found:  # asked several times per request
            self._found[session_id] = self.model._find(session_id, self.transport)
        return self._found[session_id]

    def tool_env(self, session_id, message):
        """The environment tools run in, naming the client as it calls itself
        (a 2026-07-28 request's ``_meta``, else what its session said at
        ``initialize``); without such a name, the caller's (``caller.py``)."""
        env = self.model.env
        name = reported_client_name(message) or self.find(session_id).client_name
        return (
            env(context=dict(env.context, **{CLIENT_CONTEXT_KEY: name}))
            if name
            else env
        )

    def initialized(
        self, session_id, version, client_info, asks_forms=False, shows_apps=False
    ):
        if session_id:
            self.find(session_id)._record_initialize(
                version, client_info, asks_forms, shows_apps
            )
            return session_id
        return self.model._open(
            self.transport, version, client_info, asks_forms, shows_apps
        ).session_key

    def protocol_version(self, session_id):
        return self.find(session_id).protocol_version or None

    def asks_forms(self, session_id):
        return self.find(session_id).client_asks_forms

    def shows_apps(self, session_id):
        return self.find(session_id).client_shows_apps

    def reserve_stream(self):
        held = mcp_streams.HeldStream(self.model.env, self.client_socket)
        if held.refusal:
            return False
        self.held = held
        return True

    def deliver(self, session_id, message):
        self.find(session_id)._deliver_answer(message)

    def close(self, session_id):
        session = self.find(session_id)
        session.unlink()
        return bool(session)
