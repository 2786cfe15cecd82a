"""The outside-in harness itself: a real odoo-bin serves the addon."""

import json
import time
import urllib.request

from helpers.servers import logged_errors


def _get_json(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, json.load(response)


def _log_once_it_shows(server, line, since, timeout=10):
    """The log written after offset ``since``, once ``line`` is in it.

    Workers write a request's line just after they answer it.
    """
    deadline = time.monotonic() + timeout
    while (line not in (log := server.log()[since:])) and time.monotonic() < deadline:
        time.sleep(0.1)
    return log


def test_server_serves_health_with_the_addon_installed(odoo_server):
    # the session's server may have logged other tests' requests: read from here
    since = len(odoo_server.log())
    status, health = _get_json(f"{odoo_server.url}/web/health")
    assert (status, health["status"]) == (200, "pass")
    # the addon's own routes: server-wide (no database) and of the database
    assert _get_json(f"{odoo_server.url}/health") == (200, {"ok": True})
    status, openapi = _get_json(f"{odoo_server.url}/api/quotation/openapi.json")
    assert status == 200
    assert "/api/quotation/async" in openapi["paths"]

    log = odoo_server.log()
    startup = log[: log.index(" werkzeug: ")]  # before the first request
    assert "Modules loaded." in startup
    assert "Registry loaded in" in startup
    warnings = [
        line
        for line in startup.splitlines()
        if " WARNING " in line and "odoo_mcp_quotation" in line
    ]
    assert not warnings, warnings
    assert not logged_errors(startup)
    ours = _log_once_it_shows(
        odoo_server, '"GET /api/quotation/openapi.json HTTP/1.1" 200', since
    )
    assert '"GET /health HTTP/1.1" 200' in ours
    assert not logged_errors(ours)
