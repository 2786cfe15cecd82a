"""OAuth for Claude's connectors, against a real ``odoo-bin --workers 2``.

A real HTTP client plays Claude and the user's browser: discovery from the
401, registration, Odoo's login page, the consent page, code, tokens, MCP
calls, refresh with rotation, revocation. Then the official MCP SDK's
``OAuthClientProvider`` does the same headlessly, once with dynamic
registration and once with a client ID metadata document served over https
from loopback. Every refusal is checked to issue nothing (rows counted).
"""

import hashlib
import json
import os
import ssl
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import harness
import pytest
import requests
from helpers.hostile_https import make_certificate
from helpers.oauth_client import (
    ALL_SCOPES,
    CLAUDE_USER,
    INITIALIZE,
    Connector,
    HiddenFields,
    mcp_post,
    pkce,
    redirect_query,
)
from helpers.servers import free_port, start_odoo_server, stop_odoo_server

PORTAL_USER = ("portal-user", "portal-user-pw")


# ---------------------------------------------------------------- helpers
def count(server, table, where="TRUE"):
    with harness.pg_connect(server.database) as connection:
        cursor = connection.cursor()
        cursor.execute(f"SELECT count(*) FROM {table} WHERE {where}")
        return cursor.fetchone()[0]


def sql(server, statement, params=()):
    connection = harness.pg_connect(server.database)
    try:
        connection.cursor().execute(statement, params)
    finally:
        connection.close()


@contextmanager
def no_token_more(server, where="TRUE"):
    """The block issues not one token (of those ``where`` selects)."""
    before = count(server, "mcp_oauth_token", where)
    yield
    assert count(server, "mcp_oauth_token", where) == before


def assert_invalid_grant(answer):
    """Refused as OAuth 2.1 refuses a code or refresh token it will not honour."""
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


def issued(server):
    """Everything the authorization server ever stored: grants and secrets."""
    return count(server, "mcp_oauth_grant"), count(server, "mcp_oauth_token")


def call_tool(server, token, name, arguments, base=None):
    message = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }
    return mcp_post(server, token, message, base=base)


def list_tools(server, token):
    answer = mcp_post(
        server, token, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    )
    assert answer.status_code == 200, answer.text
    return sorted(tool["name"] for tool in answer.json()["result"]["tools"])


# ---------------------------------------------------------------- the flow
def test_discovery_starts_from_the_401(odoo_server):
    server = odoo_server
    connector = Connector(server)
    challenge, resource = connector.discover()
    assert challenge.startswith("Bearer ")
    assert 'resource_metadata="' in challenge
    assert resource["resource"] == f"{server.url}/mcp"
    alias = requests.get(f"{server.url}/.well-known/oauth-protected-resource").json()
    assert alias == resource
    metadata = connector.metadata
    assert metadata["issuer"] == server.url
    # from the endpoints themselves (oauthlib's MetadataEndpoint)
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["response_types_supported"] == ["code"]
    assert sorted(metadata["grant_types_supported"]) == [
        "authorization_code",
        "refresh_token",
    ]
    assert metadata["response_modes_supported"] == ["query"]
    assert "none" in metadata["token_endpoint_auth_methods_supported"]
    assert metadata["client_id_metadata_document_supported"] is True
    # every scope, those the test user is not given too
    assert set(metadata["scopes_supported"]) == {
        *ALL_SCOPES.split(),
        "quotations:send",
        "quotations:update",
    }
    for endpoint in ("registration", "revocation", "token", "authorization"):
        assert metadata[f"{endpoint}_endpoint"].startswith(server.url)


def test_claude_connects_end_to_end_and_loses_access_when_revoked(odoo_server):
    server = odoo_server
    connector = Connector(server)
    connector.discover()
    metadata = connector.metadata
    registered = connector.register()
    assert registered.status_code == 201, registered.text
    connector.client = registered.json()

    verifier, code_challenge = pkce()
    page = connector.open_consent(connector.authorization_url(code_challenge))
    assert page.status_code == 200
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    for shown in ("Claude (pytest)", "Claude User", "My Company"):
        assert shown in page.text, shown
    assert 'font-monospace">127.0.0.1</strong>' in page.text, "the bare host"
    assert "Find customers" in page.text and 'name="csrf_token"' in page.text

    answer = connector.decide(page)
    query = redirect_query(answer)
    assert query["state"] == "state-123"
    assert query["iss"] == server.url
    tokens = connector.exchange(query["code"], verifier).json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600
    assert set(tokens["scope"].split()) == set(ALL_SCOPES.split())
    access, refresh = tokens["access_token"], tokens["refresh_token"]
    # kept only as a hash, and never logged
    digest = hashlib.sha256(access.encode()).hexdigest()
    assert count(server, "mcp_oauth_token", f"token_hash = '{digest}'") == 1
    assert access not in server.log() and refresh not in server.log()

    initialized = mcp_post(server, access, INITIALIZE)
    assert initialized.status_code == 200
    assert "Mcp-Session-Id" in initialized.headers
    created = call_tool(
        server,
        access,
        "create_quotation",
        {
            "customer_name": "OAuth Flow Customer",
            "email": "oauth.flow@example.com",
            "lines": [{"product": "DESK-STD", "quantity": 1}],
        },
    ).json()["result"]["structuredContent"]
    assert created["status"] in ("pending", "done")  # done: built in the call
    tracking_id = created["tracking_id"]
    assert (
        count(
            server,
            "quotation_task t JOIN res_users u ON u.id = t.requested_by_id",
            f"t.tracking_id = '{tracking_id}' AND u.login = 'claude-user'",
        )
        == 1
    ), "the task runs as the authorising user"

    rotated = connector.refresh(refresh)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    assert new["refresh_token"] != refresh and new["access_token"] != access
    assert mcp_post(server, new["access_token"], INITIALIZE).status_code == 200

    revoked = requests.post(
        metadata["revocation_endpoint"],
        data={
            "token": new["refresh_token"],
            "client_id": connector.client["client_id"],
        },
        timeout=30,
    )
    assert revoked.status_code == 200
    refused = mcp_post(server, new["access_token"], INITIALIZE)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    assert connector.refresh(new["refresh_token"]).json()["error"] == "invalid_grant"


def test_api_keys_still_work_beside_oauth(odoo_server):
    answer = mcp_post(odoo_server, odoo_server.api_key, INITIALIZE)
    assert answer.status_code == 200
    status = requests.get(
        f"{odoo_server.url}/api/quotation/status/unknown",
        headers={"Authorization": f"Bearer {odoo_server.api_key}"},
        timeout=30,
    )
    assert status.status_code == 404


def test_oauth_tokens_are_for_mcp_not_the_rest_api(odoo_server):
    access = Connector(odoo_server).connect().tokens()["access_token"]
    answer = requests.get(
        f"{odoo_server.url}/api/quotation/status/unknown",
        headers={"Authorization": f"Bearer {access}"},
        timeout=30,
    )
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthenticated"


# ---------------------------------------------------------------- scopes
def test_a_narrow_grant_lists_only_its_tools_and_403s_beyond(odoo_server):
    server = odoo_server
    connector = Connector(server).connect()
    access = connector.tokens(scope="quotations:create")["access_token"]
    assert list_tools(server, access) == ["create_quotation", "get_quotation_status"]
    tasks_before = count(server, "quotation_task")
    answer = call_tool(server, access, "find_customer", {"query": "a"})
    assert answer.status_code == 403
    challenge = answer.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="customers:read"' in challenge
    assert f'resource_metadata="{server.url}/.well-known/' in challenge
    assert count(server, "quotation_task") == tasks_before


def test_a_grant_never_exceeds_the_users_scopes(odoo_server):
    server = odoo_server
    sql(
        server,
        "UPDATE res_users SET ai_agent_scopes = 'quotations:create' "
        "WHERE login = 'claude-user'",
    )
    try:
        connector = Connector(server).connect()
        tokens = connector.tokens()  # asks for all three
        assert tokens["scope"] == "quotations:create"
        assert list_tools(server, tokens["access_token"]) == [
            "create_quotation",
            "get_quotation_status",
        ]
    finally:
        sql(
            server,
            "UPDATE res_users SET ai_agent_scopes = %s WHERE login = 'claude-user'",
            ["quotations:create quotations:read customers:read"],
        )


def test_an_admin_narrows_one_app_below_what_its_users_allow(odoo_server):
    """Per OAuth client (issue 13): at once for the tokens it holds, and for
    what its next authorization grants."""
    server = odoo_server
    connector = Connector(server).connect()
    access = connector.tokens()["access_token"]  # all three scopes
    assert "find_customer" in list_tools(server, access)
    client_id = connector.client["client_id"]
    sql(
        server,
        "UPDATE mcp_oauth_client SET allowed_scopes = 'quotations:create' "
        "WHERE client_id = %s",
        [client_id],
    )
    assert list_tools(server, access) == ["create_quotation", "get_quotation_status"]
    answer = call_tool(server, access, "find_customer", {"query": "a"})
    assert answer.status_code == 403
    assert 'scope="customers:read"' in answer.headers["WWW-Authenticate"]
    assert connector.tokens()["scope"] == "quotations:create"
    sql(
        server,
        "UPDATE mcp_oauth_client SET allowed_scopes = 'customers:read' "
        "WHERE client_id = %s",
        [client_id],
    )
    _verifier, challenge = pkce()
    url = connector.authorization_url(challenge, scope="quotations:create")
    assert redirect_query(connector.open_consent(url))["error"] == "invalid_scope"


# ---------------------------------------------------------------- refusals
def test_registration_refuses_redirect_uris_off_the_allow_list(odoo_server):
    connector = Connector(odoo_server)
    connector.discover()
    before = count(odoo_server, "mcp_oauth_client")
    for uris in (["https://evil.example/callback"], ["http://10.0.0.5:8080/cb"], []):
        answer = connector.register(redirect_uris=uris)
        assert answer.status_code == 400
        assert answer.json()["error"] == "invalid_redirect_uri"
    assert count(odoo_server, "mcp_oauth_client") == before
    allowed = connector.register(
        redirect_uris=["https://claude.ai/api/mcp/auth_callback"]
    )
    assert allowed.status_code == 201


def test_authorize_never_redirects_to_an_unregistered_uri(odoo_server):
    connector = Connector(odoo_server).connect()
    before = issued(odoo_server)
    _verifier, challenge = pkce()
    answer = connector.browser.get(
        connector.authorization_url(
            challenge, redirect_uri="https://evil.example/callback"
        ),
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 400
    assert "Location" not in answer.headers
    assert "cannot connect" in answer.text
    assert issued(odoo_server) == before


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"code_challenge_method": "plain"}, "algorithm not supported"),
        ({"code_challenge_method": None}, "algorithm not supported"),
        ({"code_challenge": None}, "Code challenge required"),
        ({"resource": "https://other.example/mcp"}, "issues tokens for"),
        ({"scope": "everything"}, "scope"),
    ],
)
def test_errors_before_login_are_shown_never_redirected(odoo_server, overrides, says):
    """Before the user has logged in, nothing goes to the client's redirect
    URI (it answered 302 there): Odoo shows the error instead."""
    connector = Connector(odoo_server).connect()
    before = issued(odoo_server)
    params = {"code_challenge": "x" * 43, **overrides}
    answer = connector.browser.get(
        connector.authorization_url(params.pop("code_challenge"), **params),
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 400, answer.headers.get("Location")
    assert "Location" not in answer.headers
    assert "cannot connect" in answer.text
    assert says.lower() in answer.text.lower()
    assert issued(odoo_server) == before


def test_after_login_a_validated_client_gets_its_error_back(odoo_server):
    """Once the user has logged in and the client and its redirect URI are
    validated, errors go back to the client as OAuth 2.1 says."""
    connector = Connector(odoo_server).connect()
    page = connector.open_consent(connector.authorization_url(pkce()[1]))
    assert page.status_code == 200
    before = issued(odoo_server)
    for method in ("plain", None):
        answer = connector.browser.get(
            connector.authorization_url("x" * 43, code_challenge_method=method),
            allow_redirects=False,
            timeout=30,
        )
        query = redirect_query(answer)
        assert query["error"] == "invalid_request"
        assert "code" not in query
    other = connector.browser.get(
        connector.authorization_url(pkce()[1], resource="https://other.example/mcp"),
        allow_redirects=False,
        timeout=30,
    )
    assert redirect_query(other)["error"] == "invalid_target"
    assert issued(odoo_server) == before


def test_a_wrong_verifier_gets_no_token(odoo_server):
    connector = Connector(odoo_server).connect()
    query, _verifier = connector.authorize()
    with no_token_more(odoo_server, "kind <> 'code'"):
        assert_invalid_grant(connector.exchange(query["code"], pkce()[0]))


def test_a_reused_code_is_refused_and_revokes_what_it_issued(odoo_server):
    connector = Connector(odoo_server).connect()
    query, verifier = connector.authorize()
    first = connector.exchange(query["code"], verifier).json()
    assert mcp_post(odoo_server, first["access_token"], INITIALIZE).status_code == 200
    with no_token_more(odoo_server):
        assert_invalid_grant(connector.exchange(query["code"], verifier))
    assert mcp_post(odoo_server, first["access_token"], INITIALIZE).status_code == 401
    assert connector.refresh(first["refresh_token"]).status_code == 400


def test_expired_code_and_access_token_are_refused(odoo_server):
    connector = Connector(odoo_server).connect()
    query, verifier = connector.authorize()
    code_hash = hashlib.sha256(query["code"].encode()).hexdigest()
    sql(
        odoo_server,
        "UPDATE mcp_oauth_token SET expires_at = now() - interval '1 minute' "
        "WHERE token_hash = %s",
        [code_hash],
    )
    with no_token_more(odoo_server):
        assert_invalid_grant(connector.exchange(query["code"], verifier))

    access = connector.tokens()["access_token"]
    sql(
        odoo_server,
        "UPDATE mcp_oauth_token SET expires_at = now() - interval '1 second' "
        "WHERE token_hash = %s",
        [hashlib.sha256(access.encode()).hexdigest()],
    )
    answer = mcp_post(odoo_server, access, INITIALIZE)
    assert answer.status_code == 401
    assert "resource_metadata=" in answer.headers["WWW-Authenticate"]


def test_a_reused_refresh_token_revokes_its_family(odoo_server):
    connector = Connector(odoo_server).connect()
    tokens = connector.tokens()
    rotated = connector.refresh(tokens["refresh_token"]).json()
    with no_token_more(odoo_server):
        assert_invalid_grant(connector.refresh(tokens["refresh_token"]))
    assert mcp_post(odoo_server, rotated["access_token"], INITIALIZE).status_code == 401
    assert connector.refresh(rotated["refresh_token"]).status_code == 400


def test_tokens_are_bound_to_the_resource(odoo_server):
    connector = Connector(odoo_server).connect()
    # a token issued for http://127.0.0.1:<port>/mcp is not one for localhost's
    access = connector.tokens()["access_token"]
    port = urlsplit(odoo_server.url).port
    answer = mcp_post(odoo_server, access, INITIALIZE, base=f"http://localhost:{port}")
    assert answer.status_code == 401
    assert "issued for" in answer.json()["error"]["message"]


def test_a_disabled_client_is_refused_everywhere(odoo_server):
    connector = Connector(odoo_server).connect()
    tokens = connector.tokens()
    sql(
        odoo_server,
        "UPDATE mcp_oauth_client SET active = FALSE WHERE client_id = %s",
        [connector.client["client_id"]],
    )
    assert mcp_post(odoo_server, tokens["access_token"], INITIALIZE).status_code == 401
    assert (
        connector.refresh(tokens["refresh_token"]).json()["error"] == "invalid_client"
    )
    before = issued(odoo_server)
    page = connector.browser.get(
        connector.authorization_url(pkce()[1]), allow_redirects=False, timeout=30
    )
    assert page.status_code == 400 and "Location" not in page.headers
    assert issued(odoo_server) == before


def test_deny_on_the_consent_page_returns_access_denied(odoo_server):
    connector = Connector(odoo_server).connect()
    page = connector.open_consent(connector.authorization_url(pkce()[1]))
    before = issued(odoo_server)
    answer = connector.decide(page, "deny")
    query = redirect_query(answer)
    assert query["error"] == "access_denied"
    assert query["state"] == "state-123"
    assert query["iss"] == odoo_server.url
    assert "code" not in query
    assert issued(odoo_server) == before


def test_the_consent_form_needs_its_csrf_token(odoo_server):
    connector = Connector(odoo_server).connect()
    page = connector.open_consent(connector.authorization_url(pkce()[1]))
    form = HiddenFields()
    form.feed(page.text)
    form.fields["csrf_token"] = "forged"
    before = issued(odoo_server)
    answer = connector.browser.post(
        connector.metadata["authorization_endpoint"],
        data={**form.fields, "decision": "allow"},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 400
    assert "Location" not in answer.headers
    assert issued(odoo_server) == before


def test_a_portal_user_cannot_connect_an_app(odoo_server):
    connector = Connector(odoo_server, user=PORTAL_USER).connect()
    before = issued(odoo_server)
    answer = connector.open_consent(connector.authorization_url(pkce()[1]))
    query = redirect_query(answer)
    assert query["error"] == "access_denied"
    assert "code" not in query
    assert issued(odoo_server) == before


# ---------------------------------------------------------------- the SDK
def run_oauth_sdk(server, *args, env=None):
    python = os.environ.get("OMQ_VENV_MCP_CLIENT")
    if not python:
        pytest.fail("OMQ_VENV_MCP_CLIENT is not set: run the tests with `make test`")
    result = harness.run_oauth_mcp_client(
        python, f"{server.url}/mcp", *CLAUDE_USER, *args, env=env
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def assert_sdk_connected(report):
    assert "exception" not in report, report
    assert report["server"] == "odoo-mcp-quotation"
    assert "create_quotation" in report["tools"]
    assert "find_customer" in report["tools"]
    assert report["created"]["status"] in ("pending", "done")
    assert report["status"]["status"] == "done", report["status"]
    assert report["consent_names_client"]


def test_the_mcp_sdk_connects_with_dynamic_registration(odoo_server):
    report = run_oauth_sdk(odoo_server)
    assert_sdk_connected(report)
    assert not report["client_id"].startswith("https://")


class MetadataDocument(BaseHTTPRequestHandler):
    document = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.document)))
        self.end_headers()
        self.wfile.write(self.document)

    def log_message(self, *_args):
        pass


@pytest.fixture(scope="module")
def metadata_document_host(tmp_path_factory):
    """An https server on 127.0.0.1 with its own certificate authority."""
    cert, key = make_certificate(tmp_path_factory.mktemp("cimd"))
    port = free_port()
    url = f"https://127.0.0.1:{port}/oauth/client.json"
    MetadataDocument.document = json.dumps(
        {
            "client_id": url,
            "client_name": "SDK connector test",
            "redirect_uris": ["http://127.0.0.1:33418/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }
    ).encode()
    httpd = ThreadingHTTPServer(("127.0.0.1", port), MetadataDocument)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield url, cert
    httpd.shutdown()


def test_the_mcp_sdk_connects_with_a_client_id_metadata_document(
    tmp_path, metadata_document_host
):
    url, cert = metadata_document_host
    server = start_odoo_server(
        tmp_path,
        env={"ODOO_MCP_OAUTH_TEST_MODE": "1", "SSL_CERT_FILE": str(cert)},
    )
    try:
        report = run_oauth_sdk(server, "--client-metadata-url", url)
        assert_sdk_connected(report)
        assert report["client_id"] == url
        assert count(server, "mcp_oauth_client", "kind = 'metadata_document'") == 1
    finally:
        stop_odoo_server(server)


def test_metadata_documents_on_loopback_are_refused_outside_test_mode(
    odoo_server, metadata_document_host
):
    url, _cert = metadata_document_host
    connector = Connector(odoo_server)
    connector.discover()
    connector.client = {"client_id": url}
    authorization_url = connector.authorization_url(
        pkce()[1], redirect_uri="http://127.0.0.1:33418/callback"
    )
    before = count(odoo_server, "mcp_oauth_client"), issued(odoo_server)
    anonymous = connector.browser.get(authorization_url, allow_redirects=False)
    assert anonymous.status_code == 303, "no fetch for an anonymous visitor"
    assert "/web/login" in anonymous.headers["Location"]
    page = connector.open_consent(authorization_url)
    assert page.status_code == 400
    assert "Location" not in page.headers
    assert "could not be fetched" in page.text
    assert "127.0.0.1" not in page.text.split("could not be fetched")[1][:300]
    assert (count(odoo_server, "mcp_oauth_client"), issued(odoo_server)) == before
