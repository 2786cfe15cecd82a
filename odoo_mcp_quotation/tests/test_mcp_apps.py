import html
import json
import operator
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
from .smtp_server import MailServerMixin

UI = "io.modelcontextprotocol/ui"
SHOWS_APPS = {"extensions": {UI: {"mimeTypes": ["text/html;profile=mcp-app"]}}}
CARD = "ui://odoo-mcp-quotation/quotation-card"

# A host as small as the extension allows: it loads the card once per tool
# result, each in a sandboxed iframe, answers ui/initialize with the locale,
# waits for ui/notifications/initialized, then passes the result; once a card
# has drawn it, it copies what the card shows into #seen for the test to read.
HOST_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><style>
body { margin: 0; background: #e7e5e4; font-family: sans-serif; }
iframe { border: 0; width: 720px; height: 440px; margin: 20px; background: #fff;
  box-shadow: 0 1px 6px rgba(0,0,0,.2); border-radius: 10px; display: block; }
#seen { display: none; }
</style></head><body>
<pre id="seen"></pre>
<script>
var CARD = __CARD__, RESULTS = __RESULTS__, LOCALE = __LOCALE__;
var frames = [], seen = [];
function cells(doc, selector) {
  return Array.from(doc.querySelectorAll(selector)).map(function (row) {
    return Array.from(row.children).map(function (cell) { return cell.innerText; });
  });
}
function show(index, log) {
  var doc = frames[index].contentDocument;
  if (doc.body.getAttribute("data-rendered") !== "quotation") {
    return setTimeout(function () { show(index, log); }, 20);
  }
  var facts = {}, terms = doc.querySelectorAll("dt");
  terms.forEach(function (dt) {
    facts[dt.innerText] = dt.nextElementSibling.innerText;
  });
  seen[index] = {
    log: log, lang: doc.documentElement.lang,
    reference: doc.getElementById("reference").textContent,
    state: doc.getElementById("state").textContent,
    total: doc.getElementById("total") && doc.getElementById("total").textContent,
    text: doc.body.innerText, facts: facts,
    rows: cells(doc, "tbody tr"), totals: cells(doc, ".totals div"),
    links: Array.from(doc.querySelectorAll("a")).map(function (a) {
      return { text: a.innerText, href: a.href };
    })
  };
  if (seen.filter(Boolean).length === RESULTS.length) {
    document.getElementById("seen").textContent = JSON.stringify(seen);
  }
}
RESULTS.forEach(function (result, index) {
  var frame = document.createElement("iframe"), log = [];
  frame.setAttribute("sandbox", "allow-scripts allow-same-origin");
  frames.push(frame);
  document.body.appendChild(frame);
  function reply(message) { frame.contentWindow.postMessage(message, "*"); }
  window.addEventListener("message", function (event) {
    if (event.source !== frame.contentWindow) return;
    var m = event.data;
    log.push(m.method || "response");
    if (m.method === "ui/initialize") {
      reply({ jsonrpc: "2.0", id: m.id, result: {
        protocolVersion: "2026-01-26", hostInfo: { name: "test-host", version: "1" },
        hostCapabilities: {}, hostContext: { locale: LOCALE, theme: "light" } } });
    } else if (m.method === "ui/notifications/initialized") {
      reply({ jsonrpc: "2.0", method: "ui/notifications/tool-result", params: result });
      show(index, log);
    }
  });
  frame.srcdoc = CARD;
});
</script></body></html>
"""


@tagged("post_install", "-at_install")
class TestMcpApps(MailServerMixin, TestUsersMixin, HttpCase):
    """The quotation card (MCP Apps) through real HTTP at /mcp, and drawn by
    headless Chromium from real tool results."""

    test_users = {
        "user": {
            "login": "omq_mcp_apps_agent",
            "groups": f"{SALESMAN},base.group_user",
            "ai_agent_scopes": "quotations:create quotations:read quotations:update "
            "quotations:send customers:read",
        },
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user.name = "Marta Ruiz"  # the salesperson the card shows
        # who follows the agents' quotations (else nobody: unassigned)
        cls.env["ir.config_parameter"].set_param(
            "odoo_mcp_quotation.user_id", cls.user.id
        )
        cls.key = api_key(cls.user, "mcp apps tests")
        vat = cls.env["account.tax"].create(
            {"name": "Card VAT 21%", "amount": 21, "type_tax_use": "sale"}
        )
        chair = cls.env["product.product"].create(
            {
                "name": "Card Chair",
                "default_code": "CARD-CHAIR",
                "list_price": 189.0,
                "taxes_id": [Command.set(vat.ids)],
            }
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

    def tool(self, headers, name, **arguments):
        """A tool's result, which must not be an error."""
        result = self.call(
            headers, "tools/call", {"name": name, "arguments": arguments}
        )["result"]
        self.assertFalse(result.get("isError"), result["content"][0]["text"])
        return result

    def get_quotation(self, headers):
        return self.tool(headers, "get_quotation", reference=self.order.name)

    def created_updated_sent(self, headers):
        """Real results of create_quotation once done (its retry: Odoo built
        it in the background meanwhile), update_quotation and send_quotation."""
        request = {
            "customer_name": "Jorge Card",
            "email": "jorge.card@example.com",
            "conversation_id": "card-conversation-1",
            "lines": [
                {"product": "CARD-CHAIR", "quantity": 2},
                {"product": "CARD-LAMP", "quantity": 1},
            ],
        }
        queued = self.tool(headers, "create_quotation", **request)
        self.assertEqual(queued["structuredContent"]["status"], "pending")
        self.assertNotIn("quotation", queued["structuredContent"])
        self.pending = queued  # the card's short form
        self.env["quotation.task"]._process_due()
        created = self.tool(headers, "create_quotation", **request)
        reference = created["structuredContent"]["order_reference"]
        updated = self.tool(
            headers,
            "update_quotation",
            quotation=reference,
            lines=[{"product": "CARD-CHAIR", "quantity": 4}],
        )
        sent = self.tool(headers, "send_quotation", quotation=reference, confirm=True)
        return created, updated, sent

    def test_the_card_is_offered_to_a_client_that_announces_the_extension(self):
        headers, capabilities = self.session(SHOWS_APPS)
        self.assertEqual(
            capabilities["extensions"][UI], {"mimeTypes": ["text/html;profile=mcp-app"]}
        )
        tools = {
            tool["name"]: tool
            for tool in self.call(headers, "tools/list")["result"]["tools"]
        }
        named = {name for name, tool in tools.items() if "ui" in tool.get("_meta", {})}
        self.assertEqual(
            named,
            {
                "get_quotation",
                "create_quotation",
                "get_quotation_status",
                "update_quotation",
                "send_quotation",
            },
        )
        for name in named:
            self.assertEqual(tools[name]["_meta"]["ui"], {"resourceUri": CARD})
        self.assertEqual(
            set(tools) - named,
            {"search_products", "find_customer", "list_recent_quotations"},
        )
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
        for result in (
            self.get_quotation(headers),
            *self.created_updated_sent(headers),
        ):
            self.assertEqual(
                json.loads(result["content"][0]["text"]), result["structuredContent"]
            )

    def test_a_client_without_the_extension_sees_no_card(self):
        headers, capabilities = self.session()
        self.assertNotIn("extensions", capabilities)
        self.assertNotIn("resources", capabilities)
        tools = self.call(headers, "tools/list")["result"]["tools"]
        self.assertIn("send_quotation", [tool["name"] for tool in tools])
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

    def test_a_done_create_and_a_send_carry_what_get_quotation_returns(self):
        headers, _capabilities = self.session(SHOWS_APPS)
        created, updated, sent = map(
            operator.itemgetter("structuredContent"), self.created_updated_sent(headers)
        )
        self.assertEqual(created["status"], "done")
        self.assertEqual(created["quotation"]["reference"], created["order_reference"])
        self.assertEqual(created["quotation"]["amount_total"], created["total"])
        self.assertEqual(
            [
                (line["product"], line["quantity"])
                for line in created["quotation"]["lines"]
            ],
            [("Card Chair", 2.0), ("Card Lamp", 1.0)],
        )
        now = self.tool(headers, "get_quotation", reference=sent["reference"])
        self.assertEqual(sent["quotation"], now["structuredContent"])
        self.assertEqual(sent["quotation"]["state"], "sent")
        self.assertEqual(sent["quotation"]["lines"], updated["lines"])
        self.assertEqual(sent["quotation"]["lines"][0]["quantity"], 4.0)

    # ------------------------------------------------------------ the browser
    def render(self, locale, results, screenshot=None):
        """What the card shows in headless Chromium inside the test host, one
        card per tool result."""
        browser = next(filter(None, map(shutil.which, BROWSERS)), None)
        self.assertTrue(
            browser, "the card test needs Chromium: apt-get install chromium"
        )
        headers, _capabilities = self.session(SHOWS_APPS)
        card = self.call(headers, "resources/read", {"uri": CARD})["result"]
        page = (
            HOST_PAGE.replace("__CARD__", _script_json(card["contents"][0]["text"]))
            .replace("__RESULTS__", _script_json(results))
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
            if screenshot:  # the first card fills the window
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

    def results(self):
        """get_quotation's, then create_quotation's (done), update_quotation's
        and send_quotation's results, as a host receives them."""
        headers, _capabilities = self.session(SHOWS_APPS)
        return [self.get_quotation(headers), *self.created_updated_sent(headers)]

    def assert_shows(self, seen, result, words, decimal):
        """``seen`` (one card) shows the quotation ``result`` carries, with
        ``words`` ({our word: the card's}) and its ``decimal`` separator."""
        data = result["structuredContent"]
        quotation = data.get("quotation", data)
        order = self.env["sale.order"].search([("name", "=", quotation["reference"])])

        def amount(value):
            return f"{value:.2f}".replace(".", decimal)

        self.assertIn(quotation["reference"], seen["reference"])
        self.assertEqual(seen["state"], words[quotation["state"]])
        rows = {row[0].split("\n")[0]: row for row in seen["rows"]}
        self.assertEqual(len(rows), len(quotation["lines"]))
        for line in quotation["lines"]:
            _product, quantity, price, discount, subtotal = rows[line["product"]]
            self.assertEqual(quantity, f"{line['quantity']:g} {words['unit']}")
            self.assertIn(amount(line["unit_price"]), price)
            self.assertEqual(
                discount, f"{line['discount']:g} %" if line["discount"] else "\u2013"
            )
            self.assertIn(amount(line["subtotal"]), subtotal)
        self.assertTrue(quotation["amount_tax"])
        self.assertIn(
            amount(quotation["amount_tax"]), dict(seen["totals"])[words["taxes"]]
        )
        self.assertIn(amount(quotation["amount_total"]), seen["total"])
        self.assertIn(order.currency_id.symbol, seen["total"])
        facts = seen["facts"]
        self.assertEqual(facts[words["salesperson"]], order.user_id.name)
        self.assertIn(order.partner_id.name, facts[words["customer"]])
        valid_until = order.validity_date
        self.assertEqual(quotation["valid_until"], valid_until.isoformat())
        self.assertIn(str(valid_until.year), facts[words["valid"]])
        self.assertIn(str(valid_until.day), facts[words["valid"]])
        links = {link["text"]: link["href"] for link in seen["links"]}
        self.assertEqual(
            links[words["odoo"]], f"{order.get_base_url()}/odoo/sale.order/{order.id}"
        )
        self.assertEqual(links[words["portal"]], quotation["portal_url"])
        self.assertIn(order.access_url, quotation["portal_url"])
        if "tracking_id" in data:
            self.assertEqual(facts[words["tracking"]], data["tracking_id"])

    def test_chromium_draws_the_card_in_english(self):
        results = self.results()
        *seen, pending = self.render(
            "en-US",
            [*results, self.pending],
            self._screenshot("mcp_quotation_card_en.png"),
        )
        # still being built: what the request says, nothing it does not know
        self.assertEqual(pending["state"], "Being prepared")
        self.assertEqual(
            pending["facts"],
            {"Tracking id": self.pending["structuredContent"]["tracking_id"]},
        )
        self.assertEqual(pending["rows"], [])
        self.assertIn(self.pending["structuredContent"]["message"], pending["text"])
        for card in seen:
            self.assertEqual(
                card["log"][:2], ["ui/initialize", "ui/notifications/initialized"]
            )
            self.assertEqual(card["lang"], "en")
        words = {
            "draft": "Quotation",
            "sent": "Quotation sent",
            "unit": "Units",
            "taxes": "Taxes",
            "salesperson": "Salesperson",
            "customer": "Customer",
            "valid": "Valid until",
            "odoo": "Open in Odoo",
            "portal": "Customer portal",
            "tracking": "Tracking id",
        }
        for card, result in zip(seen, results, strict=True):
            with self.subTest(result=result["structuredContent"].get("message")):
                self.assert_shows(card, result, words, ".")
        validity = self.order.validity_date
        self.assertEqual(
            seen[0]["facts"]["Valid until"],
            f"{validity:%b} {validity.day}, {validity.year}",
        )
        self.assertIn(f"{self.order.amount_total:,.2f}", seen[0]["total"])
        self.assertIn("Lucía Fernández", seen[0]["text"])

    def test_chromium_draws_the_card_in_spanish(self):
        self.assertTrue(self.env["res.lang"]._lang_get("es_ES").active)
        self.user.lang = "es_ES"  # the units' names come from Odoo in Spanish
        results = self.results()
        seen = self.render(
            "es-ES", results, self._screenshot("mcp_quotation_card_es.png")
        )
        words = {
            "draft": "Presupuesto",
            "sent": "Presupuesto enviado",
            "unit": "Unidades",
            "taxes": "Impuestos",
            "salesperson": "Comercial",
            "customer": "Cliente",
            "valid": "Válido hasta",
            "odoo": "Abrir en Odoo",
            "portal": "Portal del cliente",
            "tracking": "Id de seguimiento",
        }
        for card, result in zip(seen, results, strict=True):
            self.assertEqual(card["lang"], "es")
            with self.subTest(result=result["structuredContent"].get("message")):
                self.assert_shows(card, result, words, ",")
        # Spanish decimals; under 10,000 without a thousands separator
        total = f"{self.order.amount_total:.2f}".replace(".", ",")
        self.assertIn(total, seen[0]["total"])


def _script_json(value):
    """``value`` as a JavaScript literal safe inside a <script> element."""
    return json.dumps(value).replace("</", "<\\/")


def _without_memory_limit():
    """Chromium reserves more address space than Odoo's test limit allows
    (Odoo's own browser is started the same way)."""
    unlimited = resource.RLIM_INFINITY
    resource.setrlimit(resource.RLIMIT_AS, (unlimited, unlimited))
