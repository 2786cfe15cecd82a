import logging
import re
import secrets
import select
import time
from datetime import timedelta

import odoo
from odoo import api, fields, models
from odoo.modules.registry import Registry
from odoo.sql_db import db_connect
from odoo.tools import SQL, config

from .. import compat
from ..lib.settings import read_setting
from ..mcp.framing import SSE_KEEPALIVE, dumps, sse_event

_logger = logging.getLogger(__name__)

SSE_CHANNEL = "odoo_mcp_quotation_sse"
SESSION_KEY = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
TOUCH_EVERY = timedelta(minutes=10)
IDLE_SESSION_DAYS = 7
SSE_KEEPALIVE_SECONDS = 15
# a prefork worker is killed after limit_time_real: end the stream cleanly before
PREFORK_STREAM_MARGIN_SECONDS = 10
# elsewhere (the gevent process, threaded mode) a stream ends after an hour:
# clients reconnect, and a forgotten stream cannot hold its connection forever
STREAM_LIFETIME_SECONDS = 3600
# a tools/call that asks its client (2025-11-25 elicitation) waits this long
# for the answers at most, wherever it runs (less on a prefork worker, above)
ELICITATION_WAIT_SECONDS = 300
# a live stream holds the advisory lock (namespace, session id) on its own
# connection: PostgreSQL counts exactly the streams alive on every server, and
# forgets one the moment its process dies
STREAM_LOCK_PREFORK = 0x4D435001
STREAM_LOCK_OTHER = 0x4D435002


def _storable(value):
    """The message as jsonb can hold it: an echoed NUL becomes U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    return value


def _client_labels(client_info):
    """What the client says it is (bounded by the protocol layer)."""
    return {
        "client_name": client_info.get("name") or False,
        "client_version": client_info.get("version") or False,
    }


@compat.unique_constraints(
    ("session_key_uniq", "unique(session_key)", "Session keys are unique."),
)
class McpSession(models.Model):
    """An MCP client connection, kept in PostgreSQL so that any worker serves it.

    Streamable HTTP sessions remember the negotiated protocol version and
    whether the client takes form elicitation; legacy SSE sessions also route
    answers: the worker that serves a POST stores them as
    ``mcp.session.message`` and NOTIFYs, and the process that holds the stream
    LISTENs and writes them out. The client's answers to a question asked on
    the stream of a Streamable HTTP tools/call travel the same way.
    """

    _name = "mcp.session"
    _description = "MCP Client Session"
    _order = "id desc"
    _rec_name = "client_name"

    session_key = fields.Char(
        required=True,
        readonly=True,
        copy=False,
        index=True,
        default=lambda self: secrets.token_urlsafe(32),
    )
    user_id = fields.Many2one(
        "res.users", required=True, readonly=True, ondelete="cascade", index=True
    )
    transport = fields.Selection(
        [("streamable_http", "Streamable HTTP"), ("sse", "HTTP+SSE (legacy)")],
        required=True,
        readonly=True,
    )
    protocol_version = fields.Char(readonly=True)
    client_name = fields.Char(readonly=True)
    client_version = fields.Char(readonly=True)
    client_asks_forms = fields.Boolean(
        readonly=True, help="The client declared form elicitation (2025-11-25)."
    )
    last_seen = fields.Datetime(readonly=True, default=fields.Datetime.now)

    # ------------------------------------------------------------------ sessions
    @api.model
    def _open(self, transport, protocol_version, client_info=None, asks_forms=False):
        client_info = client_info or {}
        return self.sudo().create(
            {
                "user_id": self.env.uid,
                "transport": transport,
                "protocol_version": protocol_version,
                "client_asks_forms": asks_forms,
                **_client_labels(client_info),
            }
        )

    @api.model
    def _find(self, session_key, transport):
        """The caller's own live session on ``transport``: another user's key,
        or a session of the other transport, finds nothing."""
        if not SESSION_KEY.fullmatch(session_key or ""):
            return self.browse()
        session = self.sudo().search(
            [
                ("session_key", "=", session_key),
                ("user_id", "=", self.env.uid),
                ("transport", "=", transport),
            ],
            limit=1,
        )
        if session and session.last_seen < fields.Datetime.now() - TOUCH_EVERY:
            session.last_seen = fields.Datetime.now()
        return session

    def _record_initialize(self, protocol_version, client_info, asks_forms=False):
        self.write(
            {
                "protocol_version": protocol_version,
                "client_asks_forms": asks_forms,
                **_client_labels(client_info),
            }
        )

    @api.autovacuum
    def _gc_idle_sessions(self):
        """Forget sessions unused for a week (SSE ones whose stream died too)."""
        limit = fields.Datetime.now() - timedelta(days=IDLE_SESSION_DAYS)
        self.sudo().search([("last_seen", "<", limit)]).unlink()

    # ------------------------------------------------------------------ SSE
    @api.model
    def _stream_refusal(self):
        """Why the caller may not open one more stream, or None.

        Returns ``(status, message)``: over the caller's own cap 429, over the
        server's cap 503; and a prefork HTTP worker holds a stream only while
        at least half of the workers stay free for other requests.
        """
        self.env.cr.execute(
            """
            SELECT count(*) FILTER (WHERE s.user_id = %(uid)s),
                   count(*),
                   count(*) FILTER (WHERE l.classid = %(prefork)s::oid)
              FROM pg_locks l
              JOIN mcp_session s ON s.id = l.objid::integer
             WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted
               AND l.database = (SELECT oid FROM pg_database
                                  WHERE datname = current_database())
               AND l.classid IN (%(prefork)s::oid, %(other)s::oid)
            """,
            {
                "uid": self.env.uid,
                "prefork": STREAM_LOCK_PREFORK,
                "other": STREAM_LOCK_OTHER,
            },
        )
        mine, everyone, on_workers = self.env.cr.fetchone()
        per_user = read_setting(self.env, "mcp_streams_per_user")
        in_all = read_setting(self.env, "mcp_streams")
        if mine >= per_user:
            return 429, (
                f"You already hold {mine} live MCP streams, the most allowed: "
                "close one, or use Streamable HTTP (/mcp), which holds none."
            )
        if everyone >= in_all:
            return 503, (
                f"The server holds {everyone} live MCP streams, its limit: retry "
                "later, or use Streamable HTTP (/mcp), which holds none."
            )
        if _in_prefork_worker() and on_workers >= config["workers"] // 2:
            return 503, (
                "The HTTP workers hold all the streams they may: open /mcp/sse on "
                "Odoo's gevent port (8072 by default), where a reverse proxy "
                "should send it, or use Streamable HTTP (/mcp)."
            )
        return None

    def _push(self, message):
        """Queue an answer for this session's stream, wherever that stream is.

        Delivered by NOTIFY on commit; the row carries the payload because a
        NOTIFY payload is limited to 8000 bytes.
        """
        self.ensure_one()
        self.env["mcp.session.message"].sudo().create(
            {"session_id": self.id, "payload": _storable(message)}
        )
        self.env.cr.execute("SELECT pg_notify(%s, %s)", [SSE_CHANNEL, str(self.id)])

    def _deliver_answer(self, message):
        """Queue a client's answer for the stream of this session that asked,
        if one is alive (its lock is held): a late or stray answer is dropped
        rather than stored."""
        self.ensure_one()
        self.env.cr.execute(
            """
            SELECT 1 FROM pg_locks
             WHERE locktype = 'advisory' AND objsubid = 2 AND granted
               AND objid = %(session)s AND classid IN (%(prefork)s, %(other)s)
               AND database = (SELECT oid FROM pg_database
                                WHERE datname = current_database())
             LIMIT 1
            """,
            {
                "session": self.id,
                "prefork": STREAM_LOCK_PREFORK,
                "other": STREAM_LOCK_OTHER,
            },
        )
        if self.env.cr.fetchone():
            self._push(message)

    def _elicitation_stream(self, asking, client_socket=None):
        """The event stream of a tools/call that asks its client first, as a
        WSGI body (2025-11-25 form elicitation, see ``mcp/protocol.py``).

        Like a legacy SSE stream, it runs after the request's transaction on a
        connection of its own and holds a stream's lock, so it counts against
        the same caps (the controller only asks when a stream is allowed). It
        sends each question and waits for the answer, which another worker,
        process or server receives (``_deliver_answer``), for
        ``ELICITATION_WAIT_SECONDS`` in all at most: a question left
        unanswered counts as cancelled. Then it runs the tool again with the
        answers, as the caller, and sends its response. A client that hangs
        up is not answered, and nothing is made for it.
        """
        self.ensure_one()
        dbname, session_id = self.env.cr.dbname, self.id
        uid, context = self.env.uid, dict(self.env.context)
        lock, lifetime = _stream_slot()

        def events():
            deadline = time.monotonic() + min(lifetime, ELICITATION_WAIT_SECONDS)
            asked = [question["id"] for question in asking.requests()]
            with db_connect(dbname).cursor() as cr:
                try:
                    # shared: several calls of one session may ask at once
                    cr.execute(
                        "SELECT pg_advisory_lock_shared(%s, %s)", [lock, session_id]
                    )
                    cr.execute(SQL("LISTEN %s", SQL.identifier(SSE_CHANNEL)))
                    cr.commit()  # pylint: disable=invalid-commit
                    for question in asking.requests():
                        yield sse_event(dumps(question))
                        answer = yield from _await_answer(
                            cr, session_id, question["id"], deadline, client_socket
                        )
                        if answer == "client_left":
                            return
                        if answer is None:
                            break  # too late: the rest is not asked at all
                        asking.answer(question["id"], answer)
                finally:
                    cr.rollback()
                    cr.execute(
                        "DELETE FROM mcp_session_message WHERE session_id = %s "
                        "AND payload->>'id' = ANY(%s)",
                        [session_id, asked],
                    )
                    cr.commit()  # pylint: disable=invalid-commit
                    cr.execute("SELECT pg_advisory_unlock_all()")
            with Registry(dbname).cursor() as cr:
                response = asking.response(api.Environment(cr, uid, context))
            yield sse_event(dumps(response))

        return events()

    def _sse_stream(self, endpoint_url, client_socket=None):
        """The event stream of a legacy SSE session, as a WSGI body.

        It runs after the request's transaction has been committed and its
        cursor closed, so it uses a connection of its own: LISTEN, then write
        each message queued for this session, a keep-alive comment every 15 s,
        until the client leaves or the session is ended. The session ends
        with its stream; ``client_socket`` (from the WSGI environ) lets it
        notice at once that the client left, which frees a prefork worker.
        """
        self.ensure_one()
        dbname, session_id = self.env.cr.dbname, self.id
        lock, lifetime = _stream_slot()

        def events():
            with db_connect(dbname).cursor() as cr:
                try:
                    # locked before the first byte: once the client sees the
                    # stream, every refusal check counts it
                    cr.execute("SELECT pg_advisory_lock(%s, %s)", [lock, session_id])
                    yield sse_event(endpoint_url, "endpoint")
                    yield from _relay(cr, session_id, lifetime, client_socket)
                finally:
                    cr.rollback()
                    cr.execute("DELETE FROM mcp_session WHERE id = %s", [session_id])
                    cr.commit()  # pylint: disable=invalid-commit
                    # the pooled connection outlives the stream: free its lock
                    cr.execute("SELECT pg_advisory_unlock_all()")

        return events()


def _relay(cr, session_id, lifetime, client_socket):
    cr.execute(SQL("LISTEN %s", SQL.identifier(SSE_CHANNEL)))
    cr.commit()  # pylint: disable=invalid-commit
    connection = cr._cnx
    started = time.monotonic()
    while time.monotonic() - started < lifetime:
        cr.execute(
            "DELETE FROM mcp_session_message WHERE session_id = %s "
            "RETURNING id, payload",
            [session_id],
        )
        messages = sorted(cr.fetchall())
        cr.execute("SELECT 1 FROM mcp_session WHERE id = %s", [session_id])
        alive = cr.fetchone()
        cr.commit()  # pylint: disable=invalid-commit
        for _id, payload in messages:
            yield sse_event(dumps(payload))
        if not alive:
            return  # ended by DELETE or vacuum
        left = lifetime - (time.monotonic() - started)
        woken = _wait_for(connection, str(session_id), client_socket, left)
        if woken == "client_left":
            return
        if woken == "timeout":
            yield SSE_KEEPALIVE
    _logger.info("MCP SSE stream %s reached its maximum lifetime", session_id)


def _await_answer(cr, session_id, request_id, deadline, client_socket):
    """Wait for the client's answer to ``request_id``, yielding a keep-alive
    every 15 s; return it, None at the deadline, or "client_left"."""
    while True:
        cr.execute(
            "DELETE FROM mcp_session_message WHERE session_id = %s "
            "AND payload->>'id' = %s RETURNING payload",
            [session_id, request_id],
        )
        row = cr.fetchone()
        cr.commit()  # pylint: disable=invalid-commit
        if row:
            return row[0]
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        woken = _wait_for(cr._cnx, str(session_id), client_socket, left)
        if woken == "client_left":
            return woken
        if woken == "timeout":
            yield SSE_KEEPALIVE


def _stream_slot():
    """The lock namespace a stream held here counts under, and its lifetime."""
    if not _in_prefork_worker():
        return STREAM_LOCK_OTHER, STREAM_LIFETIME_SECONDS
    lifetime = STREAM_LIFETIME_SECONDS
    if config["limit_time_real"] > 0:
        lifetime = config["limit_time_real"] - PREFORK_STREAM_MARGIN_SECONDS
    return STREAM_LOCK_PREFORK, lifetime


def _in_prefork_worker():
    """A prefork HTTP worker serves one connection at a time, under a time limit."""
    return not odoo.evented and config["workers"] > 0


def _wait_for(connection, payload, client_socket, lifetime_left):
    """Wait for a NOTIFY for this session: "notified", "timeout" or "client_left";
    never past the stream's lifetime (a prefork worker is killed at its limit)."""
    watched = [connection] + ([client_socket] if client_socket else [])
    deadline = time.monotonic() + min(SSE_KEEPALIVE_SECONDS, lifetime_left)
    while (remaining := deadline - time.monotonic()) > 0:
        readable, _w, _x = select.select(watched, [], [], remaining)
        if client_socket in readable and not _still_connected(client_socket):
            return "client_left"
        if connection in readable:
            connection.poll()
            notified = any(n.payload == payload for n in connection.notifies)
            connection.notifies.clear()
            if notified:
                return "notified"
    return "timeout"


def _still_connected(client_socket):
    """Read what a readable client socket holds: nothing means it hung up.

    Bytes a client sends after its GET mean nothing on an event stream (some
    send one before closing), so they are read and dropped.
    """
    try:
        return bool(client_socket.recv(4096))
    except OSError:
        return False


class McpSessions:
    """``mcp.session`` as the protocol layer's SessionStore: the caller's
    sessions on one transport.

    A session id of the other transport is unknown here: a Streamable HTTP
    session cannot post to a legacy SSE endpoint, nor the other way round.
    """

    def __init__(self, env, transport):
        self.model = env["mcp.session"]
        self.transport = transport
        self._found = {}

    def find(self, session_id):
        if session_id not in self._found:  # asked several times per request
            self._found[session_id] = self.model._find(session_id, self.transport)
        return self._found[session_id]

    def initialized(self, session_id, version, client_info, asks_forms=False):
        if session_id:
            self.find(session_id)._record_initialize(version, client_info, asks_forms)
            return session_id
        return self.model._open(
            self.transport, version, client_info, asks_forms
        ).session_key

    def protocol_version(self, session_id):
        return self.find(session_id).protocol_version or None

    def asks_forms(self, session_id):
        return self.find(session_id).client_asks_forms

    def stream_allowed(self):
        return not self.model._stream_refusal()

    def deliver(self, session_id, message):
        self.find(session_id)._deliver_answer(message)

    def close(self, session_id):
        session = self.find(session_id)
        session.unlink()
        return bool(session)
