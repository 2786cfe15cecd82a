"""Claude's side of an OAuth connection, and the user's browser, over real
HTTP: shared by the OAuth tests and the OAuth benchmark."""

import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from mcp_clients.consent_form import HiddenFields

from helpers.mcp import initialize_message

REDIRECT_URI = "http://127.0.0.1:45111/callback"
CLAUDE_USER = ("claude-user", "claude-user-pw")
ALL_SCOPES = "customers:read quotations:create quotations:read"
INITIALIZE = initialize_message(client_name="pytest-oauth")


def pkce():
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def mcp_post(server, token, message, base=None, session_id=None):
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
    }
    if session_id:
        headers["Mcp-Session-Id"] = session_id
    return requests.post(
        f"{base or server.url}/mcp", json=message, headers=headers, timeout=30
    )


class Connector:
    """Claude's side of the flow, and the user's browser."""

    def __init__(self, server, user=CLAUDE_USER):
        self.server = server
        self.user = user
        self.browser = requests.Session()
        self.metadata = None
        self.client = None

    def discover(self):
        unauthenticated = requests.post(f"{self.server.url}/mcp", json=INITIALIZE)
        assert unauthenticated.status_code == 401
        challenge = unauthenticated.headers["WWW-Authenticate"]
        resource_metadata_url = re.search(
            r'resource_metadata="([^"]+)"', challenge
        ).group(1)
        resource = requests.get(resource_metadata_url, timeout=30).json()
        issuer = resource["authorization_servers"][0]
        self.metadata = requests.get(
            f"{issuer}/.well-known/oauth-authorization-server", timeout=30
        ).json()
        return challenge, resource

    def register(self, redirect_uris=(REDIRECT_URI,), **extra):
        return requests.post(
            self.metadata["registration_endpoint"],
            json={
                "client_name": "Claude (pytest)",
                "redirect_uris": list(redirect_uris),
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
                **extra,
            },
            timeout=30,
        )

    def connect(self):
        self.discover()
        answer = self.register()
        assert answer.status_code == 201, answer.text
        self.client = answer.json()
        return self

    def authorization_url(self, challenge, **overrides):
        params = {
            "response_type": "code",
            "client_id": self.client["client_id"],
            "redirect_uri": REDIRECT_URI,
            "state": "state-123",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "scope": ALL_SCOPES,
            "resource": f"{self.server.url}/mcp",
            **overrides,
        }
        params = {k: v for k, v in params.items() if v is not None}
        return f"{self.metadata['authorization_endpoint']}?{urlencode(params)}"

    def log_in(self, redirect):
        page = self.browser.get(f"{self.server.url}/web/login", timeout=30)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        return self.browser.post(
            f"{self.server.url}/web/login",
            data={
                "login": self.user[0],
                "password": self.user[1],
                "csrf_token": csrf,
                "redirect": redirect,
            },
            allow_redirects=False,
            timeout=30,
        )

    def open_consent(self, url):
        """Follow the authorization URL as a browser: log in, reach consent."""
        answer = self.browser.get(url, allow_redirects=False, timeout=30)
        if answer.status_code == 303 and "/web/login" in answer.headers["Location"]:
            redirect = parse_qs(urlsplit(answer.headers["Location"]).query)["redirect"][
                0
            ]
            logged_in = self.log_in(redirect)
            assert logged_in.status_code == 303, logged_in.text[:300]
            answer = self.browser.get(
                f"{self.server.url}{logged_in.headers['Location']}"
                if logged_in.headers["Location"].startswith("/")
                else logged_in.headers["Location"],
                allow_redirects=False,
                timeout=30,
            )
        return answer

    def decide(self, page, decision="allow"):
        form = HiddenFields()
        form.feed(page.text)
        return self.browser.post(
            self.metadata["authorization_endpoint"],
            data={**form.fields, "decision": decision},
            allow_redirects=False,
            timeout=30,
        )

    def authorize(self, **overrides):
        """The whole browser part; returns (redirect query, verifier)."""
        verifier, challenge = pkce()
        page = self.open_consent(self.authorization_url(challenge, **overrides))
        assert page.status_code == 200, page.text[:500]
        answer = self.decide(page)
        assert answer.status_code == 302, answer.text[:500]
        return redirect_query(answer), verifier

    def token(self, **data):
        return requests.post(
            self.metadata["token_endpoint"],
            data={"client_id": self.client["client_id"], **data},
            timeout=30,
        )

    def exchange(self, code, verifier):
        return self.token(
            grant_type="authorization_code",
            code=code,
            code_verifier=verifier,
            redirect_uri=REDIRECT_URI,
            resource=f"{self.server.url}/mcp",
        )

    def tokens(self, **overrides):
        query, verifier = self.authorize(**overrides)
        answer = self.exchange(query["code"], verifier)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def refresh(self, refresh_token):
        return self.token(grant_type="refresh_token", refresh_token=refresh_token)


def redirect_query(answer):
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT_URI), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
