"""Connect to the Odoo MCP server as Claude's connectors do: OAuth, driven by
the official MCP Python SDK's ``OAuthClientProvider`` (SDK 2.x).

Headless: the redirect handler plays the user's browser (logged in to Odoo
with a password, it opens the authorization URL and presses Allow on the
consent page); the callback handler hands the code back to the SDK. Prints
one JSON document with what the client saw.

    python sdk_oauth_flow.py --url http://127.0.0.1:8069/mcp \
        --login USER --password PW [--client-metadata-url https://.../client.json]
"""

import argparse
import asyncio
import json
import re
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx2
from consent_form import HiddenFields
from mcp import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata

REDIRECT_URI = "http://127.0.0.1:33418/callback"
REQUEST = {
    "customer_name": "Claude Connector Customer",
    "email": "oauth.sdk@example.com",
    "lines": [{"product": "DESK-STD", "quantity": 1}],
}


class MemoryStorage:
    def __init__(self):
        self.tokens = None
        self.client_info = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


class Browser:
    """The user's browser: a logged-in Odoo session that consents."""

    def __init__(self, base, login, password):
        self.base = base
        self.login = login
        self.password = password
        self.http = httpx2.AsyncClient(timeout=60)
        self.callback = asyncio.get_event_loop().create_future()
        self.consent_page = ""

    async def log_in(self):
        page = await self.http.get(f"{self.base}/web/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        answer = await self.http.post(
            f"{self.base}/web/login",
            data={"login": self.login, "password": self.password, "csrf_token": csrf},
        )
        assert answer.status_code in (200, 303), answer.status_code

    async def open_authorization_url(self, url):
        page = await self.http.get(url)
        assert page.status_code == 200, (page.status_code, page.text[:500])
        self.consent_page = page.text
        form = HiddenFields()
        form.feed(page.text)
        answer = await self.http.post(
            urljoin(self.base, "/oauth/authorize"),
            data={**form.fields, "decision": "allow"},
        )
        assert answer.status_code == 302, (answer.status_code, answer.text[:500])
        query = parse_qs(urlsplit(answer.headers["location"]).query)
        self.callback.set_result(
            AuthorizationCodeResult(
                code=query["code"][0],
                state=query.get("state", [None])[0],
                iss=query.get("iss", [None])[0],
            )
        )

    async def wait_for_callback(self):
        return await self.callback


async def run(args, report):
    base = args.url.rsplit("/mcp", 1)[0]
    browser = Browser(base, args.login, args.password)
    await browser.log_in()
    storage = MemoryStorage()
    provider = OAuthClientProvider(
        server_url=args.url,
        client_metadata=OAuthClientMetadata(
            client_name="SDK connector test",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method=(
                "none" if args.client_metadata_url else "client_secret_basic"
            ),
        ),
        storage=storage,
        redirect_handler=browser.open_authorization_url,
        callback_handler=browser.wait_for_callback,
        client_metadata_url=args.client_metadata_url,
    )
    transport = streamable_http_client(
        args.url, http_client=httpx2.AsyncClient(auth=provider, timeout=60)
    )
    async with Client(transport) as client:
        report["server"] = client.server_info.name
        tools = await client.list_tools()
        report["tools"] = sorted(tool.name for tool in tools.tools)
        created = await client.call_tool("create_quotation", REQUEST)
        report["created"] = created.structured_content
        tracking_id = report["created"]["tracking_id"]
        for _attempt in range(120):
            status = await client.call_tool(
                "get_quotation_status", {"tracking_id": tracking_id}
            )
            report["status"] = status.structured_content
            if report["status"]["status"] in ("done", "failed"):
                break
            await asyncio.sleep(0.5)
    report["client_id"] = storage.client_info.client_id
    report["granted_scope"] = storage.tokens.scope
    report["consent_names_client"] = "SDK connector test" in browser.consent_page


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--login", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--client-metadata-url")
    args = parser.parse_args()
    report = {}
    try:
        await run(args, report)
    except BaseException as error:  # report what the client saw, then fail
        report["exception"] = f"{type(error).__name__}: {error!r}"[:3000]
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
