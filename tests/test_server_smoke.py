"""The outside-in harness itself: a real odoo-bin serves the addon."""

import json
import urllib.request


def test_server_serves_health_with_the_addon_installed(odoo_server):
    with urllib.request.urlopen(f"{odoo_server.url}/web/health", timeout=5) as response:
        assert response.status == 200
        assert json.load(response)["status"] == "pass"
    assert (
        "odoo_mcp_quotation" not in odoo_server.log()
        or "ERROR" not in odoo_server.log()
    )
