"""Screenshots of the addon's UI from a real run, for the README and the Apps page.

Run through ``make screenshots`` (``python3 scripts/screenshots.py``, which
bootstraps the harness's cache first; name files, e.g.
``screenshot_call_opportunity.png``, to take only those, or
``make screenshots SHOTS=...``): it copies the template database,
agents' requests go through the real service and the real queue, a real
``odoo-bin`` serves them, and headless Chromium (driven over the DevTools
protocol, as Odoo's own tours drive it) photographs the pages.
"""

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from base64 import b64decode
from pathlib import Path

import harness
from seed_data import DEMO_CATALOGUE, seed_script

# 18.0's shots illustrate the Apps page and the guides; another version's go
# beside them, in a folder of their own
OUTPUT = (
    harness.REPO / harness.ADDON / "static" / "description"
    if harness.ODOO_VERSION == "18.0"
    else harness.REPO / "docs" / "images" / harness.ODOO_VERSION
)
CALL_OUTPUT = harness.REPO / "docs" / "images"
if harness.ODOO_VERSION != "18.0":
    CALL_OUTPUT = OUTPUT
OAUTH_QUOTATION = (
    harness.REPO
    / "docs"
    / "images"
    / f"screenshot_oauth_quotation_{harness.ODOO_VERSION}.png"
)
CLAUDE_USER = ("claude-user", "claude-user-pw")
WIDTH, HEIGHT = 1600, 1000

CALL = "conv_01jz8x3m5wfe5s7b2k9q4n6c1d"
SEED_SCRIPT = (
    seed_script(
        DEMO_CATALOGUE,
        {
            "voice_agent": {"name": "Voice Agent"},
            "claude_connector": {"name": "Claude Connector"},
            # who connects Claude through OAuth, logging in with a password
            CLAUDE_USER[0]: {
                "name": "Claire Connor",
                "password": CLAUDE_USER[1],
                "ai_agent_scopes": "quotations:create quotations:read",
            },
        },
    )
    + f"CALL = {CALL!r}\n"
    + """
import json
from odoo.addons.odoo_mcp_quotation.services.quotation_service import QuotationService
from odoo.addons.odoo_mcp_quotation.tests import elevenlabs_payloads as payloads

agent, llm = users["voice_agent"], users["claude_connector"]
env["res.lang"]._activate_lang("en_US")  # the template has Spanish only
env.ref("base.user_admin").lang = "en_US"
env["ir.config_parameter"].set_param(
    "odoo_mcp_quotation.user_id", env.ref("base.user_admin").id
)
requests = [
    (agent, "rest", "Ana García", "ana@garcia-muebles.es", "García Muebles",
     [("DESK-STD", 2), ("CHAIR-ERG", 4)]),
    (llm, "mcp", "Tom Becker", "tom@becker.de", "Becker GmbH",
     [("MON-27", 6), ("LAMP-LED", 6)]),
    (agent, "rest", "Lucía Romero", "lucia@romero.es", None,
     [("Flux Capacitor", 1)]),
    (llm, "mcp", "Priya Nair", "priya@nair.in", "Nair Studio",
     [("CHAIR-ERG", 12)]),
    (agent, "rest", "Marc Dubois", "marc@dubois.fr", None,
     [("DESK-STD", 1), ("LAMP-LED", 1)]),
    (llm, "mcp", "Chen Wei", "chen@wei.cn", "Wei Trading",
     [("MON-27", 2), ("Monitor Arm", 2)]),
    (agent, "rest", "Sofia Rossi", "sofia@rossi.it", "Rossi Design",
     [("DESK-STD", 8), ("CHAIR-ERG", 8), ("LAMP-LED", 8)]),
]
for user, channel, name, email, company, lines in requests:
    QuotationService(env(user=user)).submit(
        {
            "customer_name": name, "email": email, "company_name": company,
            "notes": "Asked on the phone for a quote this week.",
            "lines": [{"product": p, "quantity": q} for p, q in lines],
        },
        channel,
    )
# the quotation a voice agent asked for during a call, and that call's deliveries
QuotationService(env(user=agent)).submit(
    {
        "customer_name": "Lucía Fernández", "email": "lucia.fernandez@example.com",
        "phone": payloads.CALLER, "company_name": "Fernández Arquitectos",
        "lines": [{"product": "DESK-STD", "quantity": 2},
                  {"product": "CHAIR-ERG", "quantity": 4}],
        "conversation_id": CALL,
    },
    "rest",
)
env["ir.config_parameter"].set_param(
    "odoo_mcp_quotation.elevenlabs_webhook_secret", payloads.SECRET
)
# the voice agent's user: its call joins the quotation request it made
env["ir.config_parameter"].set_param("odoo_mcp_quotation.elevenlabs_user_id", agent.id)
deliveries = []
recording = payloads.silent_mp3(47)
for body in (payloads.transcription(CALL), payloads.audio(CALL, recording)):
    raw, headers = payloads.signed(body)
    deliveries.append({"body": raw.decode(), "headers": headers})
print("OMQ_DELIVERIES=" + json.dumps(deliveries))
env.cr.commit()
while env["quotation.task"]._process_due(commit=True):
    pass
for name in ("Kenji Sato", "Eva Novak"):
    QuotationService(env(user=agent)).submit(
        {"customer_name": name, "phone": "+34 600 000 000",
         "lines": [{"product": "LAMP-LED", "quantity": 3}]},
        "rest",
    )
env.cr.commit()
done = env["quotation.task"].search([("state", "=", "done")], order="id", limit=1)
print("OMQ_DONE_TASK=%s" % done.id)
"""
)

LAND_SCRIPT = f"""
env["elevenlabs.webhook.delivery"]._process_due(commit=True)
call = env["elevenlabs.call"].search([("conversation_id", "=", {CALL!r})])
print("OMQ_CALL=%s,%s" % (call.id, call.lead_id.id))
"""


def _shell(config, database, script):
    """Run ``script`` in ``odoo-bin shell`` on the database, crons off."""
    return harness.odoo_bin(
        config,
        "-d",
        database,
        "--log-level=warn",
        "--max-cron-threads=0",
        subcommand="shell",
        input=script,
        capture_output=True,
        text=True,
    )


def _printed(shell, name):
    """The value an ``odoo-bin shell`` script printed as ``NAME=value``."""
    for line in shell.stdout.splitlines():
        if line.startswith(f"{name}="):
            return line.split("=", 1)[1]
    print(shell.stdout, shell.stderr)
    raise harness.HarnessError(f"the shell script printed no {name}")


def _deliver_call(base, config, database, deliveries):
    """POST the signed deliveries to the webhook, then land them as the cron does."""
    for delivery in deliveries:
        request = urllib.request.Request(
            f"{base}/api/elevenlabs/post-call",
            data=delivery["body"].encode(),
            headers=delivery["headers"],
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            harness.say(f"post-call webhook answered {response.status}")
    land = _shell(config, database, LAND_SCRIPT)
    call_id, lead_id = _printed(land, "OMQ_CALL").split(",")
    return call_id, lead_id


def _oauth_quotation(base, config, database):
    """A quotation asked for through OAuth, as Claude's connectors ask: the
    official MCP SDK registers, the user logs in to Odoo and consents, the
    client calls ``create_quotation`` and follows it until it is built.
    Returns the quotation's id."""
    python = harness.ensure_side_venvs()["OMQ_VENV_MCP_CLIENT"]
    result = harness.run_oauth_mcp_client(python, f"{base}/mcp", *CLAUDE_USER)
    if result.returncode:
        raise harness.HarnessError(f"the OAuth MCP client failed:\n{result.stderr}")
    status = json.loads(result.stdout.strip().splitlines()[-1])["status"]
    if "order_reference" not in status:
        raise harness.HarnessError(f"the MCP client's quotation is not built: {status}")
    harness.say(f"the MCP client's quotation {status['order_reference']} is built")
    found = _shell(
        config,
        database,
        'print("OMQ_ORDER=%s" % env["sale.order"].search('
        f'[("name", "=", {status["order_reference"]!r})]).id)',
    )
    return _printed(found, "OMQ_ORDER")


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise harness.HarnessError(f"{url} did not answer within {timeout} s")


def _session_id(base, database):
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "params": {"db": database, "login": "admin", "password": "admin"},
        }
    ).encode()
    request = urllib.request.Request(
        f"{base}/web/session/authenticate",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        for header in response.headers.get_all("Set-Cookie"):
            if header.startswith("session_id="):
                return header.split(";")[0].split("=", 1)[1]
    raise harness.HarnessError("logging in as admin failed")


class Browser:
    """Just enough of the DevTools protocol to load a page and photograph it."""

    def __init__(self, profile, wanted=()):
        import websocket  # noqa: PLC0415  (websocket-client, only inside the venv)

        port = _free_port()
        self.process = subprocess.Popen(
            [
                harness._browser(),
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--window-size={WIDTH},{HEIGHT}",
                f"--remote-debugging-port={port}",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for(f"http://127.0.0.1:{port}/json/version")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=5) as r:
            page = next(t for t in json.load(r) if t["type"] == "page")
        self.socket = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True
        )
        self.next_id = 0
        self.wanted = set(wanted)

    def wants(self, path):
        """Whether ``path`` is to be taken: every shot when none was named."""
        return not self.wanted or path.name in self.wanted

    def call(self, method, **params):
        self.next_id += 1
        self.socket.send(
            json.dumps({"id": self.next_id, "method": method, "params": params})
        )
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise harness.HarnessError(f"{method}: {message['error']}")
                return message.get("result", {})

    def wait_for(self, selector, timeout=30):
        deadline = time.monotonic() + timeout
        expression = f"!!document.querySelector({json.dumps(selector)})"
        while time.monotonic() < deadline:
            if self.call("Runtime.evaluate", expression=expression)["result"]["value"]:
                return
            time.sleep(0.2)
        raise harness.HarnessError(f"{selector} never appeared")

    def shoot(self, url, selector, path, scroll_to=None):
        if not self.wants(path):
            return
        self.call("Page.navigate", url=url)
        self.wait_for(selector)
        if scroll_to:
            self.call(
                "Runtime.evaluate",
                expression=f"(e => (e.closest('.o_settings_container') || e))"
                f"(document.querySelector({json.dumps(scroll_to)})).scrollIntoView()",
            )
        time.sleep(1.5)  # let animations and lazy assets settle
        self.call(
            "Runtime.evaluate",
            expression="document.querySelectorAll('.o_notification')"
            ".forEach((notification) => notification.remove())",
        )
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(b64decode(data))
        harness.say(f"wrote {path.relative_to(harness.REPO)}")

    def close(self):
        self.socket.close()
        self.process.terminate()
        self.process.wait(timeout=30)


def command_screenshots(addons_path, wanted=()):
    """Take every shot, or only those whose file names are ``wanted``."""
    harness.ensure_db_role()
    harness.ensure_browser()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    CALL_OUTPUT.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="omq-shots-"))
    config = harness.write_odoo_config(addons_path, workdir / "odoo.conf")
    template = harness.ensure_template(config)
    database = f"omq_shots_{_free_port()}"
    harness.copy_database(template, database)
    server = browser = None
    try:
        seed = _shell(config, database, SEED_SCRIPT)
        done = _printed(seed, "OMQ_DONE_TASK")
        deliveries = json.loads(_printed(seed, "OMQ_DELIVERIES"))
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [
                str(harness.VENV_PYTHON),
                str(harness.ODOO_DIR / "odoo-bin"),
                "-c",
                str(config),
                "-d",
                database,  # no --db-filter: see docs/performance.md
                "--http-port",
                str(port),
                # builds the quotation the MCP client asks for, as in production
                "--max-cron-threads=1",
                "--log-level=warn",
                "--logfile",
                str(workdir / "odoo.log"),
            ]
        )
        _wait_for(f"{base}/web/health")
        call_id, lead_id = _deliver_call(base, config, database, deliveries)
        browser = Browser(workdir / "chromium", wanted)
        browser.call("Page.enable")
        browser.call(
            "Network.setCookie",
            name="session_id",
            value=_session_id(base, database),
            domain="127.0.0.1",
            path="/",
        )
        action = f"{base}/odoo/action-odoo_mcp_quotation.action_quotation_task"
        analysis = (
            f"{base}/odoo/action-odoo_mcp_quotation.action_quotation_task_analysis"
        )
        browser.shoot(
            action, ".o_list_view .o_data_row", OUTPUT / "screenshot_list.png"
        )
        browser.shoot(
            f"{action}/{done}",
            ".o_form_view .o-mail-Chatter .o-mail-Message",
            OUTPUT / "screenshot_form.png",
        )
        browser.shoot(
            f"{action}?view_type=kanban",
            ".o_kanban_view .o_kanban_record",
            OUTPUT / "screenshot_kanban.png",
        )
        browser.shoot(
            analysis,
            ".o_graph_canvas_container canvas",
            OUTPUT / "screenshot_graph.png",
        )
        browser.shoot(
            f"{base}/odoo/settings#sale_management",
            ".o_field_widget[name=ai_quotation_rate_limit]",
            OUTPUT / "screenshot_settings.png",
            scroll_to=".o_field_widget[name=ai_quotation_team_id]",
        )
        calls = f"{base}/odoo/action-odoo_mcp_quotation.elevenlabs_call_action"
        browser.shoot(
            f"{calls}/{call_id}",
            ".o_elevenlabs_transcript p",
            CALL_OUTPUT / "screenshot_call.png",
            scroll_to=".o_field_widget[name=summary]",
        )
        browser.shoot(
            f"{base}/odoo/action-crm.crm_lead_action_pipeline/{lead_id}",
            ".o-mail-Chatter .o-mail-VoicePlayer",
            CALL_OUTPUT / "screenshot_call_opportunity.png",
        )
        browser.shoot(
            f"{base}/odoo/settings#sale_management",
            ".o_field_widget[name=ai_quotation_elevenlabs_webhook_url]",
            CALL_OUTPUT / "screenshot_call_settings.png",
            scroll_to=".o_field_widget[name=ai_quotation_elevenlabs_webhook_url]",
        )
        if browser.wants(OAUTH_QUOTATION):  # an OAuth client first: a side venv
            oauth_order = _oauth_quotation(base, config, database)
            browser.shoot(
                f"{base}/odoo/action-sale.action_quotations_with_onboarding/{oauth_order}",
                ".o_form_view .o-mail-Chatter .o-mail-Message",
                OAUTH_QUOTATION,
            )
    finally:
        if browser:
            browser.close()
        if server:
            server.terminate()
            server.wait(timeout=30)
        harness.drop_database(database)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(command_screenshots(harness.bootstrap(), sys.argv[1:]))
    except harness.HarnessError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
