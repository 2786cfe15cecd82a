from datetime import timedelta

from odoo import fields
from odoo.tests import TransactionCase, new_test_user, tagged

from odoo.addons.base.models.res_users import INDEX_SIZE

from ..services import caller


@tagged("post_install", "-at_install")
class TestApiKeyLookup(TransactionCase):
    """The fast check of an already verified API key repeats the rules of
    ``res.users.apikeys._check_credentials``: both must judge every key alike."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.owner, cls.colleague, cls.archived = (
            new_test_user(cls.env, login=login, groups="sales_team.group_sale_salesman")
            for login in ("omq_key_owner", "omq_key_colleague", "omq_key_archived")
        )
        cls.portal = new_test_user(
            cls.env, login="omq_key_portal", groups="base.group_portal"
        )

    def _live(self, uid, key):
        """Whether the fast check accepts ``key`` for ``uid``."""
        return caller._live_key(self.env, uid, key) is not None

    def _key(self, user, scope=None, expiration=None):
        keys = self.env["res.users.apikeys"].with_user(user).sudo()
        return keys._generate(scope, "pin test", expiration)

    def _row(self, key):
        self.env.cr.execute(
            "SELECT id FROM res_users_apikeys WHERE index = %s", [key[:INDEX_SIZE]]
        )
        return self.env["res.users.apikeys"].browse(self.env.cr.fetchone())

    def _expire(self, key):
        self.env.cr.execute(
            "UPDATE res_users_apikeys SET expiration_date = %s WHERE id = %s",
            [fields.Datetime.now() - timedelta(minutes=1), self._row(key).id],
        )

    def test_the_fast_lookup_agrees_with_odoo(self):
        tomorrow = fields.Datetime.now() + timedelta(days=1)
        revoked = self._key(self.owner)
        expired = self._key(self.owner, expiration=tomorrow)
        cases = {
            "global key": (self.owner, self._key(self.owner)),
            "agent key": (self.owner, self._key(self.owner, scope=caller.KEY_SCOPE)),
            "rpc key": (self.owner, self._key(self.owner, scope="rpc")),
            "key of another scope": (self.owner, self._key(self.owner, scope="other")),
            "key expiring tomorrow": (
                self.owner,
                self._key(self.owner, expiration=tomorrow),
            ),
            "expired key": (self.owner, expired),
            "revoked key": (self.owner, revoked),
            "key of an archived user": (self.archived, self._key(self.archived)),
            "a colleague's key": (self.owner, self._key(self.colleague)),
        }
        self._expire(expired)
        self._row(revoked)._remove()
        self.archived.active = False
        verdicts = {}
        for name, (uid, key) in cases.items():
            with self.subTest(name):
                odoo = self.env["res.users.apikeys"]._check_credentials(
                    scope=caller.KEY_SCOPE, key=key
                )
                ours = self._live(uid.id, key)
                self.assertEqual(ours, odoo == uid.id)
                verdicts[name] = ours
        self.assertEqual(
            {name for name, accepted in verdicts.items() if accepted},
            {"global key", "agent key", "key expiring tomorrow"},
        )

    def test_a_portal_key_that_odoo_accepts_is_refused(self):
        key = self._key(self.portal)
        self.assertEqual(
            self.env["res.users.apikeys"]._check_credentials(
                scope=caller.KEY_SCOPE, key=key
            ),
            self.portal.id,
        )
        self.assertFalse(self._live(self.portal.id, key))

    def test_a_verified_key_revoked_later_is_refused_and_not_counted(self):
        """A key verified once is checked again cheaply on every request: a
        live one costs one statement and runs as its owner with the owner's
        scopes; once revoked, it is refused at once."""
        key = self._key(self.owner)
        self.owner.ai_agent_scopes = "quotations:read"
        self.env.flush_all()
        first = caller.identify(self.env, key)
        # the key's name says which agent the user runs (the chatter names it)
        self.assertEqual(
            (first.uid, first.scopes, first.client),
            (self.owner.id, {"quotations:read"}, "pin test"),
        )
        before = self.env.cr.sql_log_count
        self.assertEqual(caller.identify(self.env, key), first)
        self.assertEqual(self.env.cr.sql_log_count - before, 1)
        self._row(key)._remove()
        with self.assertRaises(caller.Unauthenticated):
            caller.identify(self.env, key)
        counted = self.env["quotation.rate.limit"].search([("key", "=", first.budget)])
        self.assertFalse(counted)
