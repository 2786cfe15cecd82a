from odoo.sql_db import db_connect
from odoo.tests import TransactionCase, tagged

from ..services.mcp_streams import (
    SESSION_STREAM,
    STREAMS,
    STREAMS_OF_USER,
    Pool,
    refusal,
    stream_pools,
    take_slots,
)
from .common import TestUsersMixin


@tagged("post_install", "-at_install")
class TestMcpStreamCaps(TestUsersMixin, TransactionCase):
    """Live streams, counted by the slots each one holds on its connection."""

    test_users = {
        "ana": {"login": "omq_stream_ana", "groups": "base.group_user"},
        "bob": {"login": "omq_stream_bob", "groups": "base.group_user"},
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        params = cls.env["ir.config_parameter"]
        params.set_param("odoo_mcp_quotation.mcp_streams_per_user", "2")
        params.set_param("odoo_mcp_quotation.mcp_streams", "3")

    def connection(self):
        """A connection of its own, as each live stream has."""
        cr = db_connect(self.env.cr.dbname).cursor()
        self.addCleanup(cr.close)
        self.addCleanup(cr.execute, "SELECT pg_advisory_unlock_all()")
        return cr

    def open_stream(self, user):
        """What a stream does before it answers: take its slots, on a
        connection of its own; the refusal, or None."""
        full, _taken = take_slots(self.connection(), stream_pools(self.env(user=user)))
        return refusal(full) if full else None

    def test_streams_are_capped_per_user_then_in_all(self):
        self.assertIsNone(self.open_stream(self.ana))
        self.assertIsNone(self.open_stream(self.ana))
        status, message = self.open_stream(self.ana)
        self.assertEqual(status, 429)
        self.assertIn("2 live MCP streams", message)
        self.assertIsNone(self.open_stream(self.bob))
        status, message = self.open_stream(self.bob)
        self.assertEqual(status, 503)
        self.assertIn("3 live MCP streams", message)

    def test_a_session_without_a_live_stream_does_not_count(self):
        """A stream whose process died left its row, but its slots went with it."""
        for _ in range(3):
            self.env["mcp.session"].with_user(self.ana)._open("sse", "2024-11-05")
        self.assertIsNone(self.open_stream(self.ana))

    def test_slots_are_taken_all_or_none_and_one_at_a_time(self):
        """One try takes one slot; a full pool gives back what was taken."""
        first, second = self.connection(), self.connection()
        pools = [Pool(STREAMS_OF_USER, 1, self.ana.id), Pool(STREAMS, 3)]
        full, taken = take_slots(first, pools)
        self.assertIsNone(full)
        self.assertEqual(len(taken), 2)
        first.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
            "AND pid = pg_backend_pid()"
        )
        self.assertEqual(first.fetchone()[0], 2, "one lock per pool, no more")
        full, taken = take_slots(second, pools)
        self.assertEqual((full, taken), (pools[0], []))
        second.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
            "AND pid = pg_backend_pid()"
        )
        self.assertEqual(second.fetchone()[0], 0, "nothing left held")

    def waiting_stream(self, session):
        """What a stream that asks holds: its session's lock (shared)."""
        self.env.cr.execute(
            "SELECT pg_advisory_lock_shared(%s, %s)", [SESSION_STREAM, session.id]
        )
        self.addCleanup(
            self.env.cr.execute,
            "SELECT pg_advisory_unlock_shared(%s, %s)",
            [SESSION_STREAM, session.id],
        )

    def ask(self, session, request_id):
        """What a stream does before it sends a question (``AnswerMailbox.ask``)."""
        self.env.cr.execute(
            "INSERT INTO mcp_session_message (session_id, request_id) VALUES (%s, %s)",
            [session.id, request_id],
        )

    def test_an_answer_is_kept_only_for_a_question_a_live_stream_asked(self):
        """A client's answer to a question asked on a tool call's stream: a
        late or stray one (no live stream on its session), one to an id never
        asked, or a second one to the same question is not stored."""
        session = (
            self.env["mcp.session"]
            .with_user(self.ana)
            ._open("streamable_http", "2025-11-25", asks_forms=True)
        )
        asked = "elicit-x-line-1"
        answer = {"jsonrpc": "2.0", "id": asked, "result": {"action": "accept"}}
        never_asked = {"jsonrpc": "2.0", "id": "elicit-x-line-2", "result": {}}
        answers = self.env["mcp.session.message"].search
        self.ask(session, asked)
        session._deliver_answer(answer)
        self.assertFalse(answers([("payload", "!=", False)]), "no stream: dropped")
        self.waiting_stream(session)
        session._deliver_answer(never_asked)
        session._deliver_answer(answer)
        session._deliver_answer({**answer, "result": {"action": "decline"}})
        kept = answers([("session_id", "=", session.id), ("payload", "!=", False)])
        self.assertEqual(kept.mapped("payload"), [answer])
