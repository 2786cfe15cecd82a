import json
from datetime import timedelta
from unittest.mock import patch
from urllib.parse import urlencode

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import Form, HttpCase, tagged
from odoo.tools import config

from ..lib.client_registration import MAX_REDIRECT_URIS, MAX_URI
from ..lib.settings import SETTINGS
from ..services.oauth_server import secret_hash
from .common import (
    CLAUDE_CALLBACK,
    PUBLIC_CLIENT,
    SALESMAN,
    TestUsersMixin,
    api_key,
    oauth_token,
)
from .mcp_messages import initialize_message


@tagged("post_install", "-at_install")
class TestOauthHttp(TestUsersMixin, HttpCase):
    """The OAuth server through the test server: what tests/test_oauth.py's
    shared real server cannot show cheaply (a proxy's headers, the
    registration budget, the cleanup cron, the switch, who revokes what)."""

    test_users = {
        "user": {"login": "omq_oauth_user", "groups": f"{SALESMAN},base.group_user"},
        "other": {"login": "omq_oauth_other", "groups": f"{SALESMAN},base.group_user"},
    }

    def register(self, redirect_uri):
        return self.url_open(
            "/oauth/register",
            data=json.dumps({**PUBLIC_CLIENT, "redirect_uris": [redirect_uri]}),
            headers={"Content-Type": "application/json"},
        )

    def connect(self, user, client=None):
        return oauth_token(
            user.with_env(self.env), f"{self.base_url()}/mcp", client=client
        )

    def initialize(self, token):
        return self.url_open(
            "/mcp",
            data=json.dumps(initialize_message(client_name="Claude")),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
            },
        )

    def test_discovery_urls_follow_the_proxy_and_every_mcp_401_points_there(self):
        forwarded = {
            "X-Forwarded-Host": "odoo.example.com",
            "X-Forwarded-Proto": "https",
        }
        with patch.dict(config.options, proxy_mode=True):
            resource = self.url_open(
                "/.well-known/oauth-protected-resource/mcp", headers=forwarded
            ).json()
            server = self.url_open(
                "/.well-known/oauth-authorization-server", headers=forwarded
            ).json()
            refusals = [
                self.url_open(path, headers=forwarded) for path in ("/mcp", "/mcp/sse")
            ]
        self.assertEqual(resource["resource"], "https://odoo.example.com/mcp")
        self.assertEqual(
            resource["authorization_servers"], ["https://odoo.example.com"]
        )
        self.assertEqual(server["issuer"], "https://odoo.example.com")
        self.assertEqual(
            server["registration_endpoint"], "https://odoo.example.com/oauth/register"
        )
        for refused in refusals:
            self.assertEqual(refused.status_code, 401)
            self.assertIn(
                'resource_metadata="https://odoo.example.com/.well-known/'
                'oauth-protected-resource/mcp"',
                refused.headers["WWW-Authenticate"],
            )

    def test_registration_takes_the_default_callbacks_then_is_rate_limited(self):
        Client = self.env["mcp.oauth.client"]
        for uri in (CLAUDE_CALLBACK, "http://localhost:53682/callback"):
            self.assertEqual(self.register(uri).status_code, 201, uri)
        for _ in range(SETTINGS["oauth_registrations_per_minute"].default - 2):
            self.register(CLAUDE_CALLBACK)
        registered = Client.search_count([])
        refused = self.register(CLAUDE_CALLBACK)
        self.assertEqual(refused.status_code, 429)
        self.assertEqual(refused.json()["error"], "temporarily_unavailable")
        self.assertGreater(int(refused.headers["Retry-After"]), 0)
        self.assertEqual(Client.search_count([]), registered)

    def test_the_cron_forgets_unused_registrations_and_dead_tokens(self):
        Client = self.env["mcp.oauth.client"]
        unused, used, recent, abandoned = (
            Client._register_client(PUBLIC_CLIENT)[0] for _ in range(4)
        )
        documented = Client.create(
            {
                "name": "Known by its document",
                "client_id": "https://app.example/client.json",
                "kind": "metadata_document",
                "redirect_uris": CLAUDE_CALLBACK,
            }
        )
        grant, _token = self.connect(self.user, used)
        never_exchanged, _token = self.connect(self.user, abandoned)
        never_exchanged.connected = False  # allowed, its code never exchanged
        self.env["mcp.oauth.token"]._issue(
            grant, "refresh", "omqr_long-dead", timedelta(days=-2)
        )
        self.env.flush_all()
        for table, ids in (
            ("mcp_oauth_client", (unused.id, used.id, abandoned.id, documented.id)),
            ("mcp_oauth_grant", (grant.id, never_exchanged.id)),
        ):
            self.env.cr.execute(
                f"UPDATE {table} SET create_date = now() - interval '2 days' "
                "WHERE id IN %s",
                [ids],
            )
        self.env.ref("odoo_mcp_quotation.ir_cron_vacuum_oauth").method_direct_trigger()
        self.assertEqual(
            (unused | used | recent | abandoned | documented).exists(), used | recent
        )
        self.assertFalse(never_exchanged.exists())
        self.assertFalse(
            self.env["mcp.oauth.token"].search(
                [("token_hash", "=", secret_hash("omqr_long-dead"))]
            )
        )
        self.assertEqual(len(grant.exists()), 1)

    def test_the_consent_page_speaks_the_users_language(self):
        client = self.env["mcp.oauth.client"]._register_client(PUBLIC_CLIENT)[0]
        self.user.write(
            {"lang": "es_ES", "ai_agent_scopes": "quotations:create customers:read"}
        )
        self.authenticate(self.user.login, self.user.login)
        query = {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": CLAUDE_CALLBACK,
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
            "scope": "quotations:create customers:read",
            "state": "xyz",
            "resource": f"{self.base_url()}/mcp",
        }
        page = self.url_open(f"/oauth/authorize?{urlencode(query)}")
        self.assertEqual(page.status_code, 200, page.text[:300])
        self.assertIn("Crear presupuestos en borrador y seguir su estado.", page.text)
        self.assertIn("(datos personales)", page.text)

    def test_admins_narrow_an_app_in_its_form_and_nobody_else_can(self):
        client = self.env["mcp.oauth.client"]._register_client(PUBLIC_CLIENT)[0]
        admin = self.env.ref("base.user_admin")
        with Form(client.with_user(admin)) as form:
            form.allowed_scopes = "quotations:create"
        self.assertEqual(client.allowed_scopes, "quotations:create")
        with self.assertRaises(ValidationError), Form(client.with_user(admin)) as form:
            form.allowed_scopes = "quotations:create everything"
        with self.assertRaises(AccessError):  # as over JSON-RPC or XML-RPC
            client.with_user(self.user).write({"allowed_scopes": ""})
        self.assertEqual(client.allowed_scopes, "quotations:create")

    def test_users_revoke_their_own_apps_only(self):
        grant, token = self.connect(self.user)
        others, others_token = self.connect(self.other)
        self.assertEqual(self.user.with_user(self.user).ai_oauth_grant_ids, grant)
        with self.assertRaises(AccessError):
            others.with_user(self.user).action_revoke()
        self.assertEqual(self.initialize(others_token).status_code, 200)
        self.assertEqual(self.initialize(token).status_code, 200)
        grant.with_user(self.user).action_revoke()
        self.assertEqual(self.initialize(token).status_code, 401)
        self.env.invalidate_all()
        self.assertFalse(self.user.with_user(self.user).ai_oauth_grant_ids)

    def test_turning_oauth_off_refuses_every_token_but_no_api_key(self):
        _grant, token = self.connect(self.user)
        self.assertEqual(self.initialize(token).status_code, 200)
        self.env["ir.config_parameter"].set_param(
            "odoo_mcp_quotation.oauth_enabled", False
        )
        refused = self.initialize(token)
        self.assertEqual(refused.status_code, 401)
        self.assertNotIn(  # it would answer 404
            "resource_metadata", refused.headers["WWW-Authenticate"]
        )
        for path in (
            "/.well-known/oauth-protected-resource",
            "/.well-known/oauth-authorization-server",
        ):
            self.assertEqual(self.url_open(path).status_code, 404, path)
        self.assertEqual(self.register(CLAUDE_CALLBACK).status_code, 403)
        self.assertEqual(self.initialize(api_key(self.user)).status_code, 200)

    def test_registration_takes_json_only_and_no_web_page_can_read_it(self):
        """A web page can POST text/plain cross-origin without asking first:
        with ``Access-Control-Allow-Origin: *`` any page registered clients
        through its visitors' browsers."""
        Client = self.env["mcp.oauth.client"]
        before = Client.search_count([])
        plain = self.url_open(
            "/oauth/register",
            data=json.dumps(PUBLIC_CLIENT),
            headers={"Content-Type": "text/plain", "Origin": "https://evil.example"},
        )
        self.assertEqual(plain.status_code, 415)
        self.assertEqual(plain.json()["error"], "invalid_client_metadata")
        self.assertNotIn("Access-Control-Allow-Origin", plain.headers)
        self.assertEqual(Client.search_count([]), before)
        registered = self.register(CLAUDE_CALLBACK)
        self.assertEqual(registered.status_code, 201)
        self.assertNotIn("Access-Control-Allow-Origin", registered.headers)

    def test_registrations_are_counted_per_ipv6_64_and_in_all(self):
        Params = self.env["ir.config_parameter"]
        Params.set_param("odoo_mcp_quotation.oauth_registrations_per_minute", 3)
        Params.set_param("odoo_mcp_quotation.oauth_registrations_per_minute_total", 5)

        def register_from(address):
            return self.url_open(
                "/oauth/register",
                data=json.dumps(PUBLIC_CLIENT),
                headers={
                    "Content-Type": "application/json",
                    "X-Forwarded-For": address,
                    "X-Forwarded-Host": "odoo.example.com",
                },
            ).status_code

        with patch.dict(config.options, proxy_mode=True):
            one_line = [register_from(f"2001:db8:0:1::{n}") for n in range(1, 5)]
            others = [register_from(f"2001:db8:0:{n}::1") for n in range(2, 5)]
        self.assertEqual(one_line, [201, 201, 201, 429], "one /64, one budget")
        self.assertEqual(others, [201, 201, 429], "and all of them one budget")

    def test_a_registered_client_is_a_few_kilobytes_at_most(self):
        loopback = "http://127.0.0.1:8080/"
        longest = loopback + "p" * (MAX_URI - len(loopback))
        for uris in ([longest] * (MAX_REDIRECT_URIS + 1), [longest + "p"]):
            refused = self.register_uris(uris)
            self.assertEqual(refused.status_code, 400)
            self.assertEqual(refused.json()["error"], "invalid_redirect_uri")
        largest = self.register_uris(
            [longest] * MAX_REDIRECT_URIS, client_name="n" * 200
        )
        self.assertEqual(largest.status_code, 201, largest.text)
        self.env.cr.execute(
            "SELECT pg_column_size(c.*) FROM mcp_oauth_client c WHERE client_id = %s",
            [largest.json()["client_id"]],
        )
        self.assertLess(self.env.cr.fetchone()[0], 2600)

    def register_uris(self, uris, **extra):
        return self.url_open(
            "/oauth/register",
            data=json.dumps({**PUBLIC_CLIENT, "redirect_uris": uris, **extra}),
            headers={"Content-Type": "application/json"},
        )

    def test_the_allow_list_binds_the_default_redirect_uri_too(self):
        """A client registered with one URI, which the administrator then took
        off the allow-list: a request naming no redirect_uri went there."""
        client = self.env["mcp.oauth.client"]._register_client(PUBLIC_CLIENT)[0]
        self.env["ir.config_parameter"].set_param(
            "odoo_mcp_quotation.oauth_redirect_allow_list",
            "https://claude.ai/api/mcp/auth_callback",
        )
        self.authenticate(self.user.login, self.user.login)
        query = {
            "response_type": "code",
            "client_id": client.client_id,
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
            "scope": "quotations:create",
            "state": "s",
        }
        for extra in ({}, {"redirect_uri": CLAUDE_CALLBACK}):
            answer = self.url_open(
                f"/oauth/authorize?{urlencode({**query, **extra})}",
                allow_redirects=False,
            )
            self.assertEqual(answer.status_code, 400, answer.headers.get("Location"))
            self.assertNotIn("Location", answer.headers)
