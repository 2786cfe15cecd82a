"""``make dist``: the module an Odoo version's Apps store branch or Odoo.sh
takes, with the series in its version, installs on a fresh database of the
version under test (so each flavour of ``make test`` installs its own)."""

import os
import re
from pathlib import Path

import harness
import pytest

SERIES_VERSION = re.compile(r'"version": "(1[89]\.0)\.\d+\.\d+\.\d+"')
CHECK_SCRIPT = """
module = env["ir.module.module"].search([("name", "=", "odoo_mcp_quotation")])
print("OMQ_STATE=" + module.state)
print("OMQ_VERSION=" + (module.latest_version or ""))
print("OMQ_PATH=" + __import__("odoo.addons.odoo_mcp_quotation").addons
      .odoo_mcp_quotation.__path__[0])
"""


@pytest.fixture
def fresh_database():
    if not os.environ.get("ODOO_RC"):
        pytest.fail("the packaging test needs the harness: run it with `make test`")
    database = f"omq_dist_{os.getpid()}"
    harness.drop_database(database)
    yield database
    harness.drop_database(database)


def test_the_packaged_module_installs_on_a_fresh_database_of_its_version(
    tmp_path, fresh_database
):
    version = harness.ODOO_VERSION
    full_version = f"{version}.{harness.addon_version()}"
    package = harness.build_dist(version, tmp_path / "dist")
    manifest = (package / "__manifest__.py").read_text()
    assert SERIES_VERSION.search(manifest)[1] == version
    assert (tmp_path / "dist" / f"{harness.ADDON}-{full_version}.zip").is_file()
    # Odoo's own addons and the package, not this checkout
    config = Path(os.environ["ODOO_RC"]).read_text()
    addons_path = re.search(r"^addons_path = (.*)$", config, re.M)[1].split(",")
    packaged = tmp_path / "odoo.conf"
    packaged.write_text(
        config.replace(
            ",".join(addons_path),
            ",".join([str(package.parent), *addons_path[1:]]),
        )
    )
    # without ODOO_RC, which 18.0 reads at import: its addons path would come
    # first, this checkout on it
    env = {name: value for name, value in os.environ.items() if name != "ODOO_RC"}
    install = harness.odoo_bin(
        packaged,
        "-d",
        fresh_database,
        "-i",
        harness.ADDON,
        harness.WITHOUT_DEMO,
        "--stop-after-init",
        "--log-level=warn",
        capture_output=True,
        text=True,
        env=env,
    )
    assert install.returncode == 0, (install.stdout + install.stderr)[-4000:]
    check = harness.odoo_bin(
        packaged,
        "-d",
        fresh_database,
        "--log-level=warn",
        subcommand="shell",
        input=CHECK_SCRIPT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert "OMQ_STATE=installed" in check.stdout, check.stdout + check.stderr
    assert f"OMQ_VERSION={full_version}" in check.stdout
    assert f"OMQ_PATH={package}" in check.stdout, "installed from the package"
