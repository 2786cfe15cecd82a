import re
import secrets
from datetime import timedelta

from odoo import api, fields, models

from .. import compat
from ..services import mcp_streams

SESSION_KEY = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
TOUCH_EVERY = timedelta(minutes=10)
IDLE_SESSION_DAYS = 7


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
    (``services/mcp_streams.py``) writes them out. The client's answers to a
    question asked on the stream of a Streamable HTTP tools/call travel the
    same way.
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
    client_shows_apps = fields.Boolean(
        readonly=True,
        help="The client announced MCP Apps (io.modelcontextprotocol/ui): it is "
        "offered the quotation card.",
    )
    last_seen = fields.Datetime(readonly=True, default=fields.Datetime.now)

    # ------------------------------------------------------------------ sessions
    @api.model
    def _open(
        self,
        transport,
        protocol_version,
        client_info=None,
        asks_forms=False,
        shows_apps=False,
    ):
        client_info = client_info or {}
        return self.sudo().create(
            {
                "user_id": self.env.uid,
                "transport": transport,
                "protocol_version": protocol_version,
                "client_asks_forms": asks_forms,
                "client_shows_apps": shows_apps,
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

    def _record_initialize(
        self, protocol_version, client_info, asks_forms=False, shows_apps=False
    ):
        self.write(
            {
                "protocol_version": protocol_version,
                "client_asks_forms": asks_forms,
                "client_shows_apps": shows_apps,
                **_client_labels(client_info),
            }
        )

    @api.autovacuum
    def _gc_idle_sessions(self):
        """Forget sessions unused for a week (SSE ones whose stream died too)."""
        limit = fields.Datetime.now() - timedelta(days=IDLE_SESSION_DAYS)
        self.sudo().search([("last_seen", "<", limit)]).unlink()

    # ------------------------------------------------------------------ messages
    def _push(self, message):
        """Queue an answer for this session's stream, wherever that stream is.

        Delivered by NOTIFY on commit; the row carries the payload because a
        NOTIFY payload is limited to 8000 bytes.
        """
        self.ensure_one()
        self.env["mcp.session.message"].sudo().create(
            {"session_id": self.id, "payload": _storable(message)}
        )
        mcp_streams.notify(self.env, self.id)

    def _deliver_answer(self, message):
        """Keep a client's answer for the stream of this session that asked:
        only to a question asked and not answered yet, while that stream is
        alive. Any other answer (late, stray, to an id never asked, or a
        second one) is dropped rather than stored."""
        self.ensure_one()
        if not mcp_streams.stream_alive(self.env, self.id):
            return
        waiting = (
            self.env["mcp.session.message"]
            .sudo()
            .search(
                [
                    ("session_id", "=", self.id),
                    ("request_id", "=", message["id"]),
                    ("payload", "=", False),
                ],
                limit=1,
            )
        )
        if waiting:
            waiting.payload = _storable(message)
            mcp_streams.notify(self.env, self.id)
