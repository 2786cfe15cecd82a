"""Apps-ready: the addon uninstalls and installs again with a clean log."""

import os
import re
from pathlib import Path

import harness
import pytest

# Log records at WARNING or above, in Odoo's log format.
PROBLEM = re.compile(r"^\S+ \S+ \d+ (WARNING|ERROR|CRITICAL) ", re.MULTILINE)

UNINSTALL_SCRIPT = """
module = env["ir.module.module"].search([("name", "=", "odoo_mcp_quotation")])
module.button_immediate_uninstall()
env.cr.commit()
print("OMQ_STATE=" + module.state)
print("OMQ_LEFT=%s" % env["ir.model.data"].search_count(
    [("module", "=", "odoo_mcp_quotation")]))
print("OMQ_GROUP_LINKS=%s" % bool(env.ref("sales_team.group_sale_salesman")
      .implied_ids.filtered(lambda g: "AI Quotations" in g.full_name)))
"""


@pytest.fixture
def scratch_database():
    template = os.environ.get("ODOO_MCP_TEMPLATE_DB")
    if not template:
        pytest.fail("outside-in tests need the harness: run them with `make test`")
    database = f"omq_reinstall_{os.getpid()}"
    harness.copy_database(template, database)
    yield database
    harness.drop_database(database)


def _problems(log):
    return [line for line in log.splitlines() if PROBLEM.match(line)]


def test_uninstall_and_reinstall_leave_no_error_in_the_log(scratch_database):
    config = Path(os.environ["ODOO_RC"])
    uninstall = harness.odoo_bin(
        config,
        "-d",
        scratch_database,
        "--log-level=info",
        subcommand="shell",
        input=UNINSTALL_SCRIPT,
        capture_output=True,
        text=True,
    )
    output = uninstall.stdout + uninstall.stderr
    assert "OMQ_STATE=uninstalled" in output, output[-4000:]
    assert "OMQ_LEFT=0" in output, "every record of the addon is gone"
    assert "OMQ_GROUP_LINKS=False" in output, "the Sales groups no longer imply ours"
    assert not _problems(output), _problems(output)

    install = harness.odoo_bin(
        config,
        "-d",
        scratch_database,
        "-i",
        harness.ADDON,
        "--stop-after-init",
        "--log-level=info",
        capture_output=True,
        text=True,
    )
    output = install.stdout + install.stderr
    assert install.returncode == 0, output[-4000:]
    assert re.search(r"odoo_mcp_quotation: loading translation file \S+es.po", output)
    assert not _problems(output), _problems(output)
