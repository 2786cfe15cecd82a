"""``make run``'s integration user sees every tool Claude is told about."""

import os

import harness
import pytest
from helpers.servers import free_port, odoo_shell

REACH = (
    "tools, _routes = __import__('odoo.addons.odoo_mcp_quotation.lib.scopes', "
    "fromlist=['reach']).reach(users['ai_agent']._ai_agent_scope_set())\n"
    "print('OMQ_SCOPES=' + users['ai_agent'].ai_agent_scopes)\n"
    "print('OMQ_TOOLS=' + ' '.join(sorted(tools)))\n"
)


def test_make_run_gives_its_key_the_read_scopes_and_says_so():
    template = os.environ.get("ODOO_MCP_TEMPLATE_DB")
    if not template:
        pytest.fail("this test needs the harness: run it with `make test`")
    database = f"omq_run_{os.getpid()}_{free_port()}"
    harness.copy_database(template, database)
    try:
        # twice: the second run finds the user and still gives it the scopes
        for _run in range(2):
            outputs = odoo_shell(database, harness.DEV_SETUP_SCRIPT + REACH)
            assert outputs["SCOPES"] == harness.DEV_SCOPES
            assert outputs["TOOLS"].split() == [
                "create_quotation",
                "find_customer",
                "get_quotation",
                "get_quotation_status",
                "list_recent_quotations",
                "search_products",
            ]
            assert outputs["API_KEY"]
    finally:
        harness.drop_database(database)
    banner = harness.run_banner("omq-key", "http://127.0.0.1:8069", "http://x")
    assert f"scopes {harness.DEV_SCOPES}" in banner
    assert "export OMQ_KEY=omq-key" in banner
