"""Outside-in fixtures: a real Odoo server process on a copy of the template.

The harness (``make test``) exports the template database, the Odoo config and
the interpreter; these fixtures start ``odoo-bin`` with ``--workers 2`` so that
HTTP workers and cron workers run for real, exactly as in production.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

import harness  # noqa: E402

SERVER_SETUP_SCRIPT = """
products = env["product.product"]
for code, name, price in [("DESK-STD", "Standing Desk", 520.0),
                          ("CHAIR-ERG", "Ergonomic Chair", 189.0)]:
    products.create({"default_code": code, "name": name, "list_price": price})
user = env["res.users"].create({
    "name": "Integration", "login": "integration",
    "groups_id": [(6, 0, [env.ref("sales_team.group_sale_salesman").id])],
})
key = env["res.users.apikeys"].with_user(user).sudo()._generate(None, "tests", None)
env.cr.commit()
print("OMQ_API_KEY=" + key)
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class OdooServer:
    url: str
    database: str
    api_key: str
    process: subprocess.Popen
    log_path: Path
    extra: dict = field(default_factory=dict)

    def log(self):
        return self.log_path.read_text(errors="replace")


def _wait_until_healthy(server, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"odoo-bin exited early:\n{server.log()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/web/health", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(
        f"odoo-bin not healthy after {timeout} s:\n{server.log()[-4000:]}"
    )


def start_odoo_server(tmp_path, *, workers=2, extra_args=()):
    """Copy the template, add demo data and an API key, start ``odoo-bin``."""
    template = os.environ.get("ODOO_MCP_TEMPLATE_DB")
    if not template:
        pytest.fail("outside-in tests need the harness: run them with `make test`")
    config = Path(os.environ["ODOO_RC"])
    database = f"omq_it_{os.getpid()}_{free_port()}"
    harness.copy_database(template, database)
    setup = harness.odoo_bin(
        config,
        "-d",
        database,
        "--log-level=warn",
        subcommand="shell",
        input=SERVER_SETUP_SCRIPT,
        capture_output=True,
        text=True,
    )
    keys = [
        line for line in setup.stdout.splitlines() if line.startswith("OMQ_API_KEY=")
    ]
    assert keys, setup.stdout + setup.stderr
    port, gevent_port = free_port(), free_port()
    log_path = tmp_path / f"odoo-{port}.log"
    command = [
        sys.executable,
        os.environ["ODOO_MCP_ODOO_BIN"],
        "-c",
        str(config),
        "-d",
        database,
        "--db-filter",
        f"^{database}$",
        "--http-port",
        str(port),
        "--gevent-port",
        str(gevent_port),
        "--workers",
        str(workers),
        "--max-cron-threads",
        "2",
        "--log-level",
        "info",
        "--logfile",
        str(log_path),
        *extra_args,
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    server = OdooServer(
        url=f"http://127.0.0.1:{port}",
        database=database,
        api_key=keys[0].split("=", 1)[1],
        process=process,
        log_path=log_path,
        extra={"gevent_url": f"http://127.0.0.1:{gevent_port}"},
    )
    try:
        _wait_until_healthy(server)
    except Exception:
        stop_odoo_server(server)
        raise
    return server


def stop_odoo_server(server):
    server.process.terminate()
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    harness.drop_database(server.database)


@pytest.fixture(scope="session")
def odoo_server(tmp_path_factory):
    """One real Odoo server (2 HTTP workers, cron workers) for the session."""
    server = start_odoo_server(tmp_path_factory.mktemp("odoo"))
    yield server
    stop_odoo_server(server)
