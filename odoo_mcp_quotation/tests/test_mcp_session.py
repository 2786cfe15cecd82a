from odoo.tests import TransactionCase, tagged

from ..services.mcp_streams import STREAM_LOCK_OTHER, stream_refusal
from .common import TestUsersMixin


@tagged("post_install", "-at_install")
class TestMcpStreamCaps(TestUsersMixin, TransactionCase):
    """Live legacy SSE streams, counted by the advisory lock each one holds."""

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

    def hold_stream(self, user):
        """What a live stream does: a session, and the lock on its connection."""
        session = self.env["mcp.session"].with_user(user)._open("sse", "2024-11-05")
        self.env.cr.execute(
            "SELECT pg_advisory_lock(%s, %s)", [STREAM_LOCK_OTHER, session.id]
        )
        self.addCleanup(
            self.env.cr.execute,
            "SELECT pg_advisory_unlock(%s, %s)",
            [STREAM_LOCK_OTHER, session.id],
        )
        return session

    def refusal(self, user):
        return stream_refusal(self.env(user=user))

    def test_streams_are_capped_per_user_then_in_all(self):
        self.assertIsNone(self.refusal(self.ana))
        self.hold_stream(self.ana)
        self.hold_stream(self.ana)
        status, message = self.refusal(self.ana)
        self.assertEqual(status, 429)
        self.assertIn("2 live MCP streams", message)
        self.assertIsNone(self.refusal(self.bob))
        self.hold_stream(self.bob)
        status, message = self.refusal(self.bob)
        self.assertEqual(status, 503)
        self.assertIn("3 live MCP streams", message)

    def test_a_session_without_a_live_stream_does_not_count(self):
        """A stream whose process died left its row, but its lock went with it."""
        for _ in range(3):
            self.env["mcp.session"].with_user(self.ana)._open("sse", "2024-11-05")
        self.assertIsNone(self.refusal(self.ana))

    def test_an_answer_is_kept_only_for_a_stream_that_waits_for_it(self):
        """A client's answer to a question asked on a tool call's stream: a
        late or stray one (no live stream on its session) is not stored."""
        session = (
            self.env["mcp.session"]
            .with_user(self.ana)
            ._open("streamable_http", "2025-11-25", asks_forms=True)
        )
        answer = {"jsonrpc": "2.0", "id": "elicit-x-line-1", "result": {}}
        messages = self.env["mcp.session.message"].search
        session._deliver_answer(answer)
        self.assertFalse(messages([("session_id", "=", session.id)]))
        self.env.cr.execute(
            "SELECT pg_advisory_lock_shared(%s, %s)", [STREAM_LOCK_OTHER, session.id]
        )
        self.addCleanup(
            self.env.cr.execute,
            "SELECT pg_advisory_unlock_shared(%s, %s)",
            [STREAM_LOCK_OTHER, session.id],
        )
        session._deliver_answer(answer)
        self.assertEqual(messages([("session_id", "=", session.id)]).payload, answer)
