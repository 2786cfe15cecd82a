from odoo.exceptions import AccessError, ValidationError
from odoo.tests import TransactionCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestResUsersAgentScopes(TransactionCase):
    """What each user's API keys and connected apps may reach."""

    def test_a_new_user_starts_with_the_voice_agent_scope(self):
        user = new_test_user(self.env, login="omq_scopes_new", groups="base.group_user")
        self.assertEqual(user.ai_agent_scopes, "quotations:create")
        self.assertIn("create_quotation, get_quotation_status", user.ai_agent_reach)
        self.assertIn("POST /api/quotation/async", user.ai_agent_reach)
        self.assertNotIn("find_customer", user.ai_agent_reach)

    def test_an_unknown_scope_is_refused_with_the_vocabulary(self):
        user = new_test_user(self.env, login="omq_scopes_bad", groups="base.group_user")
        with self.assertRaisesRegex(ValidationError, "quotations:read"):
            user.ai_agent_scopes = "quotations:create quotations:delete"

    def test_widening_shows_the_read_tools(self):
        user = new_test_user(
            self.env, login="omq_scopes_wide", groups="base.group_user"
        )
        user.ai_agent_scopes = "quotations:create customers:read"
        self.assertIn("find_customer", user.ai_agent_reach)
        self.assertNotIn("search_products", user.ai_agent_reach)

    def test_users_cannot_widen_their_own_scopes(self):
        user = new_test_user(
            self.env, login="omq_scopes_self", groups="base.group_user"
        )
        with self.assertRaises(AccessError):
            user.with_user(user).write({"ai_agent_scopes": "customers:read"})
        self.assertEqual(user.ai_agent_scopes, "quotations:create")
