import re

from psycopg2 import IntegrityError

from odoo.tests import tagged
from odoo.tools import mute_logger

from ..compat import DECLARED_CONSTRAINTS
from .common import QuotationTaskCase

# what the engine's idempotency and replay protection stand on
EXPECTED = {
    ("quotation.task", "tracking_id_uniq"),
    ("quotation.task", "idempotency_key_uniq"),
    ("quotation.task.change", "idempotency_key_uniq"),
    ("quotation.audit.entry", "key_uniq"),
    ("elevenlabs.call", "conversation_id_uniq"),
    ("elevenlabs.webhook.delivery", "conversation_type_uniq"),
    ("elevenlabs.webhook.delivery", "signature_uniq"),
    ("mcp.session", "session_key_uniq"),
    ("mcp.oauth.client", "client_id_unique"),
    ("mcp.oauth.token", "token_hash_unique"),
}


@tagged("post_install", "-at_install")
class TestConstraints(QuotationTaskCase):
    """Odoo 19.0 ignores ``_sql_constraints`` with a mere warning: a unique
    constraint declared the 18.0 way would silently be missing. Each one is
    read back from PostgreSQL, on whichever version runs."""

    def test_every_declared_constraint_is_in_the_database(self):
        declared = {(model, name) for model, name, _definition in DECLARED_CONSTRAINTS}
        self.assertEqual(declared, EXPECTED)
        for model, name, definition in DECLARED_CONSTRAINTS:
            table = self.env[model]._table
            self.env.cr.execute(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND conname = %s",
                [table, f"{table}_{name}"],
            )
            row = self.env.cr.fetchone()
            self.assertTrue(row, f"{table}_{name} is missing")
            columns = re.search(r"\((.*)\)", definition)[1].replace(" ", "")
            self.assertEqual(
                row[0].replace(" ", "").lower(), f"unique({columns})".lower()
            )

    @mute_logger("odoo.sql_db")
    def test_a_second_task_with_the_same_tracking_id_is_refused(self):
        first = self.submit()
        second = self.submit(email="someone.else@example.com")
        with self.assertRaises(IntegrityError), self.env.cr.savepoint():
            self.env.cr.execute(
                "UPDATE quotation_task SET tracking_id = %s WHERE id = %s",
                [first.tracking_id, second.id],
            )
