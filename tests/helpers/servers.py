"""Real servers for outside-in tests and benchmarks: ``odoo-bin`` on a copy of
the template database, and nginx in front of several of them.

The harness (``make test``, ``make bench``) exports the template database, the
Odoo config and the interpreter.
"""

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(REPO / "scripts"))

import harness  # noqa: E402
from seed_data import TEST_CATALOGUE, seed_script  # noqa: E402

# the tests call the read tools too: more than a new user's default scopes
SCOPES = "quotations:create quotations:read customers:read"
SERVER_SETUP_SCRIPT = (
    seed_script(
        TEST_CATALOGUE,
        {
            "integration": {"name": "Integration", "ai_agent_scopes": SCOPES},
            # people who connect apps through OAuth, with a password to log in
            "claude-user": {
                "name": "Claude User",
                "password": "claude-user-pw",
                "ai_agent_scopes": SCOPES,
            },
            "portal-user": {
                "name": "Portal Customer",
                "password": "portal-user-pw",
                "group": "base.group_portal",
            },
        },
        api_key=("integration", "tests"),
    )
    # whom the tests' setup code acts for
    + 'user = users["integration"]\n'
)


# agents in these tests poll twice a second, and the OAuth tests register a
# client each from one address: more than production defaults allow
TEST_PARAMS = {
    "odoo_mcp_quotation.rate_limit_per_minute": "600",
    "odoo_mcp_quotation.oauth_registrations_per_minute": "200",
}


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


def start_odoo_server(
    tmp_path,
    *,
    database=None,
    workers=2,
    cron_threads=2,
    params=None,
    env=None,
    setup="",
    proxy_mode=False,
    db_port=None,
):
    """Start ``odoo-bin`` the way production should run it.

    Without ``database``, copies the template and adds demo products, an
    integration user and its API key (``server.api_key``); with it, serves that
    existing database again (a restart). ``params`` are set as
    ir.config_parameter first; ``env`` adds to the server's environment;
    ``setup`` is more shell code (``user`` is the integration user), whose
    printed ``OMQ_<NAME>=<value>`` lines land in ``server.extra[NAME]``. The
    addon is a server-wide module, so that ``/health`` still answers when the
    database is gone. ``proxy_mode`` trusts a reverse proxy's X-Forwarded-*
    headers; ``db_port`` serves a database of another PostgreSQL cluster.
    """
    template = os.environ.get("ODOO_MCP_TEMPLATE_DB")
    if not template:
        pytest.fail("outside-in tests need the harness: run them with `make test`")
    config = Path(os.environ["ODOO_RC"])
    outputs = {}
    if database is None:
        database = f"omq_it_{os.getpid()}_{free_port()}"
        harness.copy_database(template, database)
        try:
            outputs = prepare_database(
                database, {**TEST_PARAMS, **(params or {})}, setup, db_port
            )
        except BaseException:
            harness.drop_database(database)
            raise
    port, gevent_port = free_port(), free_port()
    log_path = tmp_path / f"odoo-{port}.log"
    command = [
        sys.executable,
        os.environ["ODOO_MCP_ODOO_BIN"],
        "-c",
        str(config),
        "-d",
        database,  # and no --db-filter: see docs/performance.md
        "--load",
        "base,web,odoo_mcp_quotation",
        "--http-port",
        str(port),
        "--gevent-port",
        str(gevent_port),
        "--workers",
        str(workers),
        "--max-cron-threads",
        str(cron_threads),
        "--log-level",
        "info",
        "--logfile",
        str(log_path),
        *(["--proxy-mode"] if proxy_mode else []),
        *(["--db_port", str(db_port)] if db_port else []),
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    server = OdooServer(
        url=f"http://127.0.0.1:{port}",
        database=database,
        api_key=outputs.pop("API_KEY", None),
        process=process,
        log_path=log_path,
        extra={"gevent_url": f"http://127.0.0.1:{gevent_port}", **outputs},
    )
    try:
        _wait_until_healthy(server)
    except BaseException:
        stop_odoo_server(server)
        raise
    return server


def prepare_database(database, params, setup="", db_port=None):
    """Demo products, the integration user and its API key, ``params``, then
    ``setup``; the ``OMQ_<NAME>=<value>`` lines printed, as a dict."""
    script = (
        SERVER_SETUP_SCRIPT
        + "".join(
            f"env['ir.config_parameter'].set_param({key!r}, {value!r})\n"
            for key, value in params.items()
        )
        + setup
        + "env.cr.commit()\n"
    )
    outputs = odoo_shell(database, script, db_port)
    assert "API_KEY" in outputs, outputs
    return outputs


def odoo_shell(database, script, db_port=None):
    """Run ``script`` in ``odoo-bin shell``; the ``OMQ_<NAME>=<value>`` lines it
    printed, as ``{NAME: value}``."""
    shell = harness.odoo_bin(
        Path(os.environ["ODOO_RC"]),
        "-d",
        database,
        *(["--db_port", str(db_port)] if db_port else []),
        "--log-level=warn",
        subcommand="shell",
        input=script,
        capture_output=True,
        text=True,
    )
    outputs = dict(
        line.removeprefix("OMQ_").split("=", 1)
        for line in shell.stdout.splitlines()
        if line.startswith("OMQ_")
    )
    assert outputs, shell.stdout + shell.stderr
    return outputs


def bench_database(tmp_path, params):
    """A benchmark's database: a copy of the template that a first server, its
    crons off, seeds with ``params``, then leaves for the benchmark to serve
    again; ``(database, api_key)``."""
    server = start_odoo_server(tmp_path, cron_threads=0, params=params)
    stop_odoo_server(server, drop=False)
    return server.database, server.api_key


# shell code defining ``one(index)``: one quotation queued and built by the ORM
# as the integration user, no HTTP (the benchmarks' in-process floor)
IN_PROCESS_QUOTATION = """
from odoo.addons.odoo_mcp_quotation.services.quotation_service import QuotationService
user = env["res.users"].search([("login", "=", "integration")])
# it builds its own tasks, as the HTTP worker that answers does: no cron
# worker of the queue is woken for them (controllers/build_after_answer.py)
builds_itself = {"quotation_wake_up_deferred": True}
service = QuotationService(env(user=user.id, context=builds_itself))

def one(index):
    task = service.submit({
        "customer_name": f"Floor {index}",
        "email": f"floor{index}@bench.example",
        "lines": [{"product": "DESK-STD", "quantity": 1},
                  {"product": "CHAIR-ERG", "quantity": 2}],
    }, "rest")
    env.cr.commit()
    env["quotation.task"]._process_due(commit=True)
    assert task.with_env(env).state == "done", task.error
"""


def stop_odoo_server(server, drop=True):
    stop_process(server.process)
    if drop:
        harness.drop_database(server.database)


def logged_errors(log, limit=8000):
    """The ERROR and CRITICAL records of a log, tracebacks included, the last kept."""
    records, keep = [], False
    for line in log.splitlines():
        if line[:4].isdigit():  # a new record starts with its date
            keep = " ERROR " in line or " CRITICAL " in line
        if keep:
            records.append(line)
    return "\n".join(records)[-limit:]


NGINX_SITE = REPO / "deploy" / "nginx" / "odoo_mcp_quotation.conf"
NGINX_CONF = """
worker_processes 2;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream odoo_http {{
        least_conn;
{http_servers}
    }}
    upstream odoo_gevent {{
{gevent_servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        include {site};
    }}
}}
"""


@dataclass
class Nginx:
    url: str
    process: subprocess.Popen


def start_nginx(tmp_path, servers):
    """Debian's nginx with the shipped site configuration in front of ``servers``.

    Only the upstream list is written here, as an operator would for their
    servers (deploy/nginx/docker-compose.conf is the same for compose).
    """
    binary = harness.nginx_binary()
    if not binary:
        pytest.fail("the proxy tests need nginx: run them with `make test`")
    port = free_port()

    def servers_of(urls):
        return "\n".join(
            f"        server {url.split('//', 1)[1]} max_fails=0;" for url in urls
        )

    conf = tmp_path / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            tmp=tmp_path,
            port=port,
            site=NGINX_SITE,
            http_servers=servers_of(server.url for server in servers),
            gevent_servers=servers_of(server.extra["gevent_url"] for server in servers),
        )
    )
    process = subprocess.Popen(
        [binary, "-p", str(tmp_path), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    proxy = Nginx(url=f"http://127.0.0.1:{port}", process=process)
    deadline = time.monotonic() + 20
    while True:
        if process.poll() is not None:
            log = (tmp_path / "nginx-error.log").read_text(errors="replace")
            raise RuntimeError(f"nginx exited early:\n{log}")
        try:
            with urllib.request.urlopen(f"{proxy.url}/web/health", timeout=2):
                return proxy
        except OSError:
            if time.monotonic() > deadline:
                stop_process(process)
                raise
            time.sleep(0.2)


def stop_process(process):
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def burst(url, path, bodies, headers):
    """Open one connection per body, then send them all at once; the answers.

    Each answer is ``(status, JSON body or None)``; a connection refused or
    reset is ``(exception name, None)``: lost. Sockets rather than threads: as
    many connections as asked for, really open together, from a process whose
    address space Odoo's config limits.
    """
    parts = urlsplit(url)
    connections = [
        http.client.HTTPConnection(parts.hostname, parts.port, timeout=180)
        for _body in bodies
    ]
    answers = [None] * len(connections)
    try:
        for step in ("connect", "send"):  # all connections open, then all requests
            for index, (connection, body) in enumerate(
                zip(connections, bodies, strict=True)
            ):
                if answers[index]:
                    continue
                try:
                    if step == "connect":
                        connection.connect()
                    else:
                        connection.request("POST", path, json.dumps(body), headers)
                except OSError as error:
                    answers[index] = (type(error).__name__, None)
        for index, connection in enumerate(connections):
            if answers[index]:
                continue
            try:
                response = connection.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as error:
                answers[index] = (type(error).__name__, None)
                continue
            is_json = response.getheader("Content-Type", "").startswith(
                "application/json"
            )
            answers[index] = (response.status, json.loads(data) if is_json else None)
        return answers
    finally:
        for connection in connections:
            connection.close()
