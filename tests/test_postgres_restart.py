"""PostgreSQL restarted under load: every request answered 202 ends done.

The restart happens in a private cluster (initdb in a temporary directory, its
own port), so that nothing else on the machine notices.
"""

import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import harness
import pytest
import requests
from helpers.servers import (
    TEST_PARAMS,
    free_port,
    prepare_database,
    start_odoo_server,
    stop_odoo_server,
)

PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)


def _as_postgres(*command, **kwargs):
    """PostgreSQL refuses to run as root: its tools run as the postgres user."""
    if os.geteuid() == 0:
        command = ("runuser", "-u", "postgres", "--", *command)
    return subprocess.run(command, check=True, capture_output=True, **kwargs)


class PrivateCluster:
    def __init__(self, directory):
        self.directory = directory
        self.data = directory / "data"
        self.port = free_port()
        self.role = harness.DB_ROLE

    def pg_ctl(self, *args):
        _as_postgres(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.directory / "postgres.log"),
            "-w",
            *args,
        )

    def start(self):
        self.directory.mkdir()
        shutil.chown(self.directory, "postgres")
        self.directory.parent.chmod(0o755)
        _as_postgres(
            str(PG_BIN / "initdb"), "-D", str(self.data), "-U", self.role, "-A", "trust"
        )
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-k {self.directory} -c fsync=off"
        )
        self.pg_ctl("-o", options, "start")

    def restart(self):
        self.pg_ctl("-m", "fast", "restart")

    def stop(self):
        self.pg_ctl("-m", "immediate", "stop")

    def copy_template(self, name):
        """The harness's template database, dumped into this cluster."""
        template = os.environ["ODOO_MCP_TEMPLATE_DB"]
        target = ["-h", "127.0.0.1", "-U", self.role]
        subprocess.run(
            [PG_BIN / "createdb", *target, "-p", str(self.port), name], check=True
        )
        dump = subprocess.Popen(
            [
                PG_BIN / "pg_dump",
                *target,
                "-p",
                str(harness.PG["port"]),
                "-Fc",
                template,
            ],
            stdout=subprocess.PIPE,
        )
        subprocess.run(
            [
                PG_BIN / "pg_restore",
                *target,
                "-p",
                str(self.port),
                "-d",
                name,
                "--no-owner",
            ],
            stdin=dump.stdout,
            check=True,
            capture_output=True,
        )
        assert dump.wait() == 0
        shutil.copytree(
            harness.DATA_DIR / "filestore" / template,
            harness.DATA_DIR / "filestore" / name,
            dirs_exist_ok=True,
        )


@pytest.fixture
def private_cluster():
    if not PG_BIN:
        pytest.fail("this test needs PostgreSQL's server binaries (postgresql)")
    # not under pytest's tmp_path: the postgres user cannot enter root's 0700 dirs
    directory = Path(tempfile.mkdtemp(prefix="omq-pg-"))
    cluster = PrivateCluster(directory / "cluster")
    try:
        cluster.start()
        yield cluster
        cluster.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _wait_for(condition, failure, timeout=90):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.1)


def test_postgres_restarted_under_load_loses_no_accepted_request(
    tmp_path, private_cluster
):
    database = f"omq_pg_{os.getpid()}_{private_cluster.port}"
    private_cluster.copy_template(database)
    params = {
        **TEST_PARAMS,
        "odoo_mcp_quotation.rate_limit_per_minute": "100000",
        "odoo_mcp_quotation.rate_limit_per_user_per_minute": "100000",
    }
    api_key = prepare_database(database, params, db_port=private_cluster.port)[
        "API_KEY"
    ]
    server = start_odoo_server(
        tmp_path, database=database, db_port=private_cluster.port
    )
    accepted, stop = [], threading.Event()

    def agent(number):
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {api_key}"
        index = 0
        while not stop.is_set():
            index += 1
            body = {
                "customer_name": f"Agent {number} call {index}",
                "email": f"agent{number}.{index}@restart.example",
                "lines": [{"product": "DESK-STD", "quantity": 1}],
            }
            try:
                response = session.post(
                    f"{server.url}/api/quotation/async", json=body, timeout=30
                )
            except requests.ConnectionError:
                continue
            if response.status_code == 202:
                accepted.append(response.json()["status_url"])
            else:  # PostgreSQL is down: 500 or 503, and the agent tries again
                time.sleep(0.2)

    agents = [threading.Thread(target=agent, args=(n,)) for n in range(4)]
    try:
        for thread in agents:
            thread.start()
        _wait_for(lambda: len(accepted) >= 8, "no request accepted before")
        private_cluster.restart()
        restarted = len(accepted)
        _wait_for(lambda: len(accepted) >= restarted + 8, "no request accepted after")
        stop.set()
        for thread in agents:
            thread.join()

        pending = set(accepted)
        deadline = time.monotonic() + 120
        headers = {"Authorization": f"Bearer {api_key}"}
        while pending and time.monotonic() < deadline:
            for status_url in list(pending):  # the agents keep asking
                status = requests.get(status_url, headers=headers, timeout=30).json()
                assert status["status"] in ("pending", "processing", "done"), status
                if status["status"] == "done":
                    pending.discard(status_url)
            time.sleep(0.5)
        assert not pending, f"{len(pending)} of {len(accepted)} accepted not done"
        assert requests.get(f"{server.url}/health", timeout=10).json()["ok"]
    finally:
        stop.set()
        stop_odoo_server(server, drop=False)
        shutil.rmtree(harness.DATA_DIR / "filestore" / database, ignore_errors=True)
