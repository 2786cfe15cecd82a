"""Outside-in fixtures: a real Odoo server process on a copy of the template.

The harness (``make test``) exports the template database, the Odoo config and
the interpreter; these fixtures start ``odoo-bin`` with ``--workers 2`` so that
HTTP workers and cron workers run for real, exactly as in production.
"""

import pytest
from helpers.servers import (
    OdooServer,
    logged_errors,
    start_odoo_server,
    stop_odoo_server,
)


@pytest.fixture(scope="session")
def odoo_server(tmp_path_factory):
    """One real Odoo server (2 HTTP workers, cron workers) for the session."""
    server = start_odoo_server(tmp_path_factory.mktemp("odoo"))
    yield server
    stop_odoo_server(server)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test shows the tracebacks its Odoo servers logged, not just a 500."""
    report = yield
    if report.failed:
        for name in item.fixturenames:
            server = item.funcargs.get(name)
            if isinstance(server, OdooServer) and server.log_path.exists():
                errors = logged_errors(server.log())
                if errors:
                    report.sections.append((f"{name} log errors", errors))
    return report
