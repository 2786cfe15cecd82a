"""MCP event streams held by Odoo: legacy SSE streams and the streams of
tools/calls that ask their client (elicitation).

Everything that waits lives here, and nowhere else: the slots a stream takes
before it answers (advisory locks), its own database connection, LISTEN and
NOTIFY, ``select()`` on the client socket, the lifetimes, and the rule that a
prefork HTTP worker holds a stream only while half of the workers stay free.
The rows (``mcp.session``, ``mcp.session.message``) are the models'; what is
said on an elicitation stream is ``mcp/elicitation.py``'s.
"""

import logging
import select
import time
from dataclasses import dataclass

import odoo
from odoo import api
from odoo.modules.registry import Registry
from odoo.service.model import retrying
from odoo.sql_db import db_connect
from odoo.tools import SQL, config

from ..lib.settings import read_setting
from ..mcp.elicitation import CLIENT_LEFT, WAIT_SECONDS
from ..mcp.framing import SSE_KEEPALIVE, dumps, sse_event

_logger = logging.getLogger(__name__)

SSE_CHANNEL = "odoo_mcp_quotation_sse"
SSE_KEEPALIVE_SECONDS = 15
# a prefork worker is killed after limit_time_real: end the stream cleanly before
PREFORK_STREAM_MARGIN_SECONDS = 10
# elsewhere (the gevent process, threaded mode) a stream ends after an hour:
# clients reconnect, and a forgotten stream cannot hold its connection forever
STREAM_LIFETIME_SECONDS = 3600


# ---------------------------------------------------------------- slots
# An advisory lock key is two int4: (namespace + kind + slot number, holder).
SLOT_NAMESPACE = 0x4D430000
SLOT_KIND_SPAN = 0x1000  # slots of one kind at the most
STREAMS_OF_USER, STREAMS, HTTP_WORKERS, SESSION_STREAM = (
    SLOT_NAMESPACE + kind * SLOT_KIND_SPAN for kind in range(4)
)


@dataclass(frozen=True)
class Pool:
    """``size`` slots of one kind, for one ``holder`` (a user id; 0: anyone).

    A slot is a session-level advisory lock: PostgreSQL counts the slots held
    by every worker and server, and frees one the moment its connection ends.
    """

    kind: int
    size: int
    holder: int = 0


def take_slots(cr, pools):
    """Take one slot of each pool on ``cr``'s connection, all or none.

    Returns ``(None, taken)``, or the first pool with no slot free and
    nothing taken. A slot is taken by one ``pg_try_advisory_lock``, which
    two connections can never both win: a pool is never exceeded, however
    many ask at once. Held until :func:`release_slots`, or the connection's
    end.
    """
    taken = []
    for pool in pools:
        cr.execute(
            """
            SELECT slot FROM generate_series(0, %s - 1) AS slot
             WHERE pg_try_advisory_lock(%s + slot, %s)
             LIMIT 1
            """,
            [min(pool.size, SLOT_KIND_SPAN), pool.kind, pool.holder],
        )
        row = cr.fetchone()
        if row is None:
            release_slots(cr, taken)
            return pool, []
        taken.append((pool.kind + row[0], pool.holder))
    return None, taken


def release_slots(cr, taken):
    for key, holder in taken:
        cr.execute("SELECT pg_advisory_unlock(%s, %s)", [key, holder])


def in_prefork_worker():
    """A prefork HTTP worker serves one connection at a time, under a time limit."""
    return not odoo.evented and config["workers"] > 0


def worker_pool():
    """The HTTP workers that may wait at once: half of the prefork workers
    (rounded down), so that the other half stays free for everyone; None
    where waiting takes no worker (the gevent process, threaded mode)."""
    if not in_prefork_worker():
        return None
    return Pool(HTTP_WORKERS, config["workers"] // 2)


def stream_pools(env):
    """The caller's streams, all streams, and the HTTP workers that may hold one."""
    pools = [
        Pool(STREAMS_OF_USER, read_setting(env, "mcp_streams_per_user"), env.uid),
        Pool(STREAMS, read_setting(env, "mcp_streams")),
    ]
    workers = worker_pool()
    return pools + ([workers] if workers else [])


def refusal(pool):
    """``(status, message)`` for a stream refused by a full ``pool``: 429 over
    the caller's own cap, 503 over the server's or the workers'."""
    if pool.kind == STREAMS_OF_USER:
        return 429, (
            f"You already hold {pool.size} live MCP streams, the most allowed: "
            "close one, or use Streamable HTTP (/mcp), which holds none."
        )
    if pool.kind == STREAMS:
        return 503, (
            f"The server holds {pool.size} live MCP streams, its limit: retry "
            "later, or use Streamable HTTP (/mcp), which holds none."
        )
    return 503, (
        "The HTTP workers hold all the streams they may: open /mcp/sse on "
        "Odoo's gevent port (8072 by default), where a reverse proxy "
        "should send it, or use Streamable HTTP (/mcp)."
    )


# ---------------------------------------------------------------- streams
def stream_lifetime():
    """How long a stream held here may last."""
    if in_prefork_worker() and config["limit_time_real"] > 0:
        return config["limit_time_real"] - PREFORK_STREAM_MARGIN_SECONDS
    return STREAM_LIFETIME_SECONDS


class HeldStream:
    """A stream's own database connection, with its slots taken.

    Opened while the request is served, so that the slots are taken before
    anything is answered: ``refusal`` is then ``(status, message)`` and
    nothing is held. The request's transaction is committed and closed
    before the body is sent, so the body works on this connection. As a
    WSGI body it is iterated, then closed (werkzeug closes it even when it
    was never iterated): :meth:`close` gives the slots and the connection
    back.
    """

    def __init__(self, env, client_socket=None):
        self.dbname = env.cr.dbname
        self.client_socket = client_socket
        self.lifetime = stream_lifetime()
        self.started = time.monotonic()
        self.cr = db_connect(self.dbname).cursor()
        self._events = iter(())
        self._on_close = []
        try:
            full, _taken = take_slots(self.cr, stream_pools(env))
            self.cr.commit()  # pylint: disable=invalid-commit
        except Exception:
            self.close()
            raise
        self.refusal = refusal(full) if full else None
        if full:
            self.close()

    def send(self, events):
        """This stream as a WSGI body that sends ``events``."""
        self._events = events
        return self

    def at_close(self, cleanup):
        """Run ``cleanup(cr)`` on this connection when the stream ends."""
        self._on_close.append(cleanup)

    def __iter__(self):
        try:
            yield from self._events
        finally:
            self.close()

    def close(self):
        cr, self.cr = self.cr, None
        if cr is None:
            return
        try:
            cr.rollback()
            for on_close in self._on_close:
                on_close(cr)
            cr.commit()  # pylint: disable=invalid-commit
            # the pooled connection outlives the stream: free its locks and
            # stop its notifications
            cr.execute("SELECT pg_advisory_unlock_all()")
            cr.execute("UNLISTEN *")
        finally:
            cr.close()

    def listen(self):
        self.cr.execute(SQL("LISTEN %s", SQL.identifier(SSE_CHANNEL)))
        self.cr.commit()  # pylint: disable=invalid-commit

    def time_left(self):
        return self.lifetime - (time.monotonic() - self.started)

    def wait(self, session_id, seconds):
        """Wait for a NOTIFY for this session: "notified", "timeout" or
        ``CLIENT_LEFT``; never past the stream's lifetime (a prefork worker is
        killed at its limit)."""
        connection = self.cr._cnx
        client_socket, payload = self.client_socket, str(session_id)
        watched = [connection] + ([client_socket] if client_socket else [])
        deadline = time.monotonic() + min(SSE_KEEPALIVE_SECONDS, seconds)
        while (remaining := deadline - time.monotonic()) > 0:
            readable, _w, _x = select.select(watched, [], [], remaining)
            if client_socket in readable and not _still_connected(client_socket):
                return CLIENT_LEFT
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


def notify(env, session_id):
    """Wake the stream of ``session_id``, wherever it is held, on commit."""
    env.cr.execute("SELECT pg_notify(%s, %s)", [SSE_CHANNEL, str(session_id)])


# ---------------------------------------------------------------- legacy SSE
def sse_stream(held, session, endpoint_url):
    """The event stream of a legacy SSE session: the endpoint, then each
    message queued for it (``mcp.session._push``), a keep-alive comment every
    15 s, until the client leaves, the session is ended or the stream's
    lifetime is over. The session ends with its stream."""
    session_id = session.id

    def events():
        cr = held.cr
        # whoever answers for this session sees that its stream is alive
        cr.execute("SELECT pg_advisory_lock(%s, %s)", [SESSION_STREAM, session_id])
        yield sse_event(endpoint_url, "endpoint")
        held.listen()
        while held.time_left() > 0:
            cr.execute(
                "DELETE FROM mcp_session_message WHERE session_id = %s "
                "AND request_id IS NULL RETURNING id, payload",
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
            woken = held.wait(session_id, held.time_left())
            if woken == CLIENT_LEFT:
                return
            if woken == "timeout":
                yield SSE_KEEPALIVE
        _logger.info("MCP SSE stream %s reached its maximum lifetime", session_id)

    def end_session(cr):
        cr.execute("DELETE FROM mcp_session WHERE id = %s", [session_id])

    held.at_close(end_session)
    return held.send(events())


# ---------------------------------------------------------------- elicitation
class AnswerMailbox:
    """Where the answers to one stream's questions arrive: a
    ``mcp.session.message`` row per question asked, which the worker that
    receives its answer fills (``mcp.session._deliver_answer``) while this
    stream holds its session's lock; no other answer is kept. The rows go
    when the asking is over."""

    def __init__(self, held, session_id):
        self.held = held
        self.session_id = session_id
        self.asked = []
        self.deadline = time.monotonic() + min(held.time_left(), WAIT_SECONDS)
        cr = held.cr
        # shared: several calls of one session may ask at once
        cr.execute(
            "SELECT pg_advisory_lock_shared(%s, %s)", [SESSION_STREAM, session_id]
        )
        held.listen()

    def ask(self, request_id):
        cr = self.held.cr
        cr.execute(
            "INSERT INTO mcp_session_message (session_id, request_id) VALUES (%s, %s)",
            [self.session_id, request_id],
        )
        cr.commit()  # pylint: disable=invalid-commit
        self.asked.append(request_id)

    def wait(self, request_id):
        """Yield a keep-alive every 15 s until the answer to ``request_id``
        comes; return it, None at the deadline, or ``CLIENT_LEFT``."""
        cr = self.held.cr
        while True:
            cr.execute(
                "DELETE FROM mcp_session_message WHERE session_id = %s "
                "AND request_id = %s AND payload IS NOT NULL RETURNING payload",
                [self.session_id, request_id],
            )
            row = cr.fetchone()
            cr.commit()  # pylint: disable=invalid-commit
            if row:
                return row[0]
            left = self.deadline - time.monotonic()
            if left <= 0:
                return None
            woken = self.held.wait(self.session_id, left)
            if woken == CLIENT_LEFT:
                return woken
            if woken == "timeout":
                yield SSE_KEEPALIVE

    def close(self):
        """The asking is over: forget its rows, and give the stream back."""
        asked, session_id = self.asked, self.session_id

        def forget(cr):
            cr.execute(
                "DELETE FROM mcp_session_message WHERE session_id = %s "
                "AND request_id = ANY(%s)",
                [session_id, asked],
            )

        self.held.at_close(forget)
        self.held.close()


def elicitation_stream(held, session, elicitation, env):
    """The event stream of a tools/call that asks its client first: the
    questions and answers on ``held``'s connection, then the response
    computed as the caller (``env``'s user and context), in a transaction
    of its own, which Odoo's ``retrying`` runs again after a concurrent
    transaction's conflict, as it does a request's."""
    dbname, uid, context = env.cr.dbname, env.uid, dict(env.context)

    def respond(response):
        with Registry(dbname).cursor() as cr:
            caller = api.Environment(cr, uid, context)
            return retrying(lambda: response(caller), caller)

    def events():
        mailbox = AnswerMailbox(held, session.id)
        yield from elicitation.events(mailbox, respond)

    return held.send(events())


def stream_alive(env, session_id):
    """Whether a stream of ``session_id`` is alive (its session lock is held)."""
    env.cr.execute(
        """
        SELECT 1 FROM pg_locks
         WHERE locktype = 'advisory' AND objsubid = 2 AND granted
           AND classid = %s AND objid = %s
           AND database = (SELECT oid FROM pg_database
                            WHERE datname = current_database())
         LIMIT 1
        """,
        [SESSION_STREAM, session_id],
    )
    return bool(env.cr.fetchone())
