import html
import json
import os
import re
import resource
import shutil
import subprocess
import tempfile
from pathlib import Path

from odoo import Command
from odoo.tests import HttpCase, tagged

from .common import BROWSERS, SALESMAN, TestUsersMixin, api_key
from .mcp_messages import initialize_message

UI = "io.modelcontextprotocol/ui"
SHOWS_APPS = {"extensions": {UI: {"mimeTypes": ["text/html;profile=mcp-app"]}}}
CARD = "ui://odoo-mcp-quotation/quotation-card"

# A host as small as the extension allows: it loads the card in a sandboxed
# iframe, answers ui/initialize with the locale, waits for
# ui/notifications/initialized, then passes the tool result; once the card has
# drawn it, it copies what the card shows into #seen for the test to read.
HOST_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><style>
body { margin: 0; background: #e7e5e4; font-family: sans-serif; }
iframe { border: 0; width: 720px; height: 440px; margin: 20px; background: #fff;
  box-shadow: 0 1px 6px rgba(0,0,0,.2); border-radius: 10px; }
#seen { display: none; }
</style></head><body>
<iframe id="card" sandbox="allow-scripts allow-same-origin"></iframe>
<pre id="seen"></pre>
<script>
var CARD = __CARD__, RESULT = __RESULT__, LOCALE = __LOCALE__;
var frame = document.getElementById("card"), log = [];
function reply(message) { frame.contentWindow.postMessage(message, "*"); }
window.addEventListener("message", function (event) {
  var m = event.data;
  log.push(m.method || "response");
  if (m.method === "ui/initialize") {
    reply({ jsonrpc: "2.0", id: m.id, result: {
      protocolVersion: "2026-01-26", hostInfo: { name: "test-host", version: "1" },
      hostCapabilities: {}, hostContext: { locale: LOCALE, theme: "light" } } });
  } else if (m.method === "ui/notifications/initialized") {
    reply({ jsonrpc: "2.0", method: "ui/notifications/tool-result", params: RESULT });
    (function check() {
      var doc = frame.contentDocument;
      if (doc.body.getAttribute("data-rendered") !== "quotation") {
        return setTimeout(check, 20);
      }
      document.getElementById("seen").textContent = JSON.stringify({
        log: log, lang: doc.documentElement.lang,
        reference: doc.getElementById("reference").textContent,
        total: doc.getElementById("total").textContent,
        text: doc.body.innerText,
        links: Array.from(doc.querySelectorAll("a"))
          .map(function (a) { return a.href; })
      });
    })();
  }
});
frame.srcdoc = CARD;
</script></body></html>
"""


@tagged("post_install", "-at_install")
class TestMcpApps(TestUsersMixin, HttpCase):
    """The quotation card (MCP Apps) through real HTTP at /mcp, and drawn by
    headless Chromium from a real tool result."""

    test_users = {
        "user": {
            "login": "omq_mcp_apps_agent",
            "groups": f"{SALESMAN},base.group_user",
            "ai_agent_scopes": "quotations:create quotations:read customers:read",
        },
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user.name = "Marta Ruiz"  # the salesperson the card shows
        cls.key = api_key(cls.user, "mcp apps tests")
        chair = cls.env["product.product"].create(
            {"name": "Card Chair", "default_code": "CARD-CHAIR", "list_price": 189.0}
        )
        lamp = cls.env["product.product"].create(
            {"name": "Card Lamp", "default_code": "CARD-LAMP", "list_price": 39.9}
        )
        customer = cls.env["res.partner"].create(
            {"name": "Lucía Fernández", "email": "lucia@example.com"}
        )
        cls.order = cls.env["sale.order"].create(
            {
                "partner_id": customer.id,
                "user_id": cls.user.id,
                "order_line": [
                    Command.create(
                        {"product_id": chair.id, "product_uom_qty": 3, "discount": 10}
                    ),
                    Command.create({"product_id": lamp.id, "product_uom_qty": 1}),
                ],
            }
        )

    def post(self, message, **headers):
        headers = {
            "Authorization": f"Bearer {self.key}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            **headers,
        }
        return self.url_open("/mcp", data=json.dumps(message), headers=headers)

    def session(self, capabilities=None):
        """A 2025-11-25 session; returns its request headers and capabilities."""
        opened = self.post(initialize_message(capabilities=capabilities))
        headers = {
            "MCP-Protocol-Version": "2025-11-25",
            "Mcp-Session-Id": opened.headers["Mcp-Session-Id"],
        }
        return headers, opened.json()["result"]["capabilities"]

    def call(self, headers, method, params=None, request_id=2):
        message = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        return self.post(message, **headers).json()

    def get_quotation(self, headers):
        return self.call(
            headers,
            "tools/call",
            {"name": "get_quotation", "arguments": {"reference": self.order.name}},
        )["result"]

    def test_the_card_is_offered_to_a_client_that_announces_the_extension(self):
        headers, capabilities = self.session(SHOWS_APPS)
        self.assertEqual(
            capabilities["extensions"][UI], {"mimeTypes": ["text/html;profile=mcp-app"]}
        )
        tools = {
            tool["name"]: tool
            for tool in self.call(headers, "tools/list")["result"]["tools"]
        }
        for name in ("get_quotation", "create_quotation"):
            self.assertEqual(tools[name]["_meta"]["ui"], {"resourceUri": CARD})
        self.assertNotIn("ui", tools["search_products"].get("_meta", {}))
        listed = self.call(headers, "resources/list")["result"]["resources"]
        self.assertEqual([resource["uri"] for resource in listed], [CARD])
        content = self.call(headers, "resources/read", {"uri": CARD})["result"][
            "contents"
        ][0]
        self.assertEqual(content["mimeType"], "text/html;profile=mcp-app")
        self.assertIn("ui/initialize", content["text"])
        # self-contained: nothing loaded from outside, a strict CSP declared
        self.assertNotRegex(content["text"], r"<(script|link)[^>]+(src|href)=")
        self.assertEqual(content["_meta"]["ui"]["csp"]["resourceDomains"], [])
        self.assertEqual(content["_meta"]["ui"]["csp"]["connectDomains"], [])
        # the text stays complete for the model and for clients without the card
        result = self.get_quotation(headers)
        self.assertEqual(
            json.loads(result["content"][0]["text"]), result["structuredContent"]
        )

    def test_a_client_without_the_extension_sees_no_card(self):
        headers, capabilities = self.session()
        self.assertNotIn("extensions", capabilities)
        self.assertNotIn("resources", capabilities)
        tools = self.call(headers, "tools/list")["result"]["tools"]
        self.assertFalse([tool for tool in tools if "ui" in tool.get("_meta", {})])
        self.assertEqual(
            self.call(headers, "resources/list")["result"]["resources"], []
        )
        refused = self.call(headers, "resources/read", {"uri": CARD})
        self.assertEqual(refused["error"]["code"], -32002)

    def test_get_quotation_gives_the_card_what_it_shows(self):
        headers, _capabilities = self.session(SHOWS_APPS)
        quotation = self.get_quotation(headers)["structuredContent"]
        self.assertEqual(quotation["customer"], "Lucía Fernández")
        self.assertEqual(quotation["salesperson"], self.user.name)
        self.assertEqual(quotation["lines"][0]["discount"], 10.0)
        self.assertTrue(
            quotation["odoo_url"].endswith(f"/odoo/sale.order/{self.order.id}")
        )
        self.assertIn(self.order.access_url, quotation["portal_url"])

    # ------------------------------------------------------------ the browser
    def render(self, locale, screenshot=None):
        """What the card shows in headless Chromium inside the test host."""
        browser = next(filter(None, map(shutil.which, BROWSERS)), None)
        self.assertTrue(
            browser, "the card test needs Chromium: apt-get install chromium"
        )
        headers, _capabilities = self.session(SHOWS_APPS)
        card = self.call(headers, "resources/read", {"uri": CARD})["result"]
        result = self.get_quotation(headers)
        page = (
            HOST_PAGE.replace("__CARD__", _script_json(card["contents"][0]["text"]))
            .replace("__RESULT__", _script_json(result))
            .replace("__LOCALE__", _script_json(locale))
        )
        with tempfile.TemporaryDirectory() as workdir:
            host = Path(workdir) / "host.html"
            host.write_text(page, encoding="utf-8")
            command = [
                browser,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={workdir}/profile",
                "--virtual-time-budget=5000",
                "--window-size=760,480",
            ]
            dom = subprocess.run(
                [*command, "--dump-dom", host.as_uri()],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
                preexec_fn=_without_memory_limit,
            ).stdout
            if screenshot:
                subprocess.run(
                    [*command, f"--screenshot={screenshot}", host.as_uri()],
                    capture_output=True,
                    timeout=60,
                    check=True,
                    preexec_fn=_without_memory_limit,
                )
        seen = re.search(r'<pre id="seen">(.*?)</pre>', dom, re.S)
        self.assertTrue(seen and seen.group(1), "the card drew nothing")
        return json.loads(html.unescape(seen.group(1)))

    def _screenshot(self, name):
        """``OMQ_CARD_SCREENSHOTS=docs/images`` keeps the pictures for the docs."""
        folder = os.environ.get("OMQ_CARD_SCREENSHOTS")
        return str(Path(folder).resolve() / name) if folder else None

    def test_chromium_draws_the_card_in_english(self):
        seen = self.render("en-US", self._screenshot("mcp_quotation_card_en.png"))
        self.assertEqual(
            seen["log"][:2], ["ui/initialize", "ui/notifications/initialized"]
        )
        self.assertEqual(seen["lang"], "en")
        self.assertIn(self.order.name, seen["reference"])
        self.assertIn(f"{self.order.amount_total:,.2f}", seen["total"])
        for shown in ("Lucía Fernández", "Card Chair", "Salesperson", "Open in Odoo"):
            self.assertIn(shown, seen["text"])
        self.assertTrue(
            any(
                link.endswith(f"/odoo/sale.order/{self.order.id}")
                for link in seen["links"]
            )
        )

    def test_chromium_draws_the_card_in_spanish(self):
        seen = self.render("es-ES", self._screenshot("mcp_quotation_card_es.png"))
        self.assertEqual(seen["lang"], "es")
        # Spanish decimals; under 10,000 without a thousands separator
        self.assertIn(f"{self.order.amount_total:.2f}".replace(".", ","), seen["total"])
        for shown in ("Lucía Fernández", "Presupuesto", "Comercial", "Abrir en Odoo"):
            self.assertIn(shown, seen["text"])


def _script_json(value):
    """``value`` as a JavaScript literal safe inside a <script> element."""
    return json.dumps(value).replace("</", "<\\/")


def _without_memory_limit():
    """Chromium reserves more address space than Odoo's test limit allows
    (Odoo's own browser is started the same way)."""
    unlimited = resource.RLIM_INFINITY
    resource.setrlimit(resource.RLIMIT_AS, (unlimited, unlimited))
