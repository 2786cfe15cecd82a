"""The harness says what is missing, and never counts a missing version as a
pass. Run in a child process: the harness reads its environment at import."""

import os
import subprocess
import sys
from pathlib import Path

import harness

HARNESS = Path(harness.__file__)


def run_harness(tmp_path, *args, **env):
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("ODOO_SRC", "ODOO_VERSION", "ODOO_PYTHON", "PYTHON3"))
    }
    return subprocess.run(
        [sys.executable, str(HARNESS), *args],
        env={**clean, "ODOO_MCP_CACHE": str(tmp_path / "cache"), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_tree_of_another_version_is_refused_naming_the_variable(tmp_path):
    result = run_harness(
        tmp_path,
        "bootstrap",
        ODOO_VERSION="19.0",
        ODOO_SRC_19=str(Path(harness.ODOO_DIR).with_name("odoo-18.0")),
    )
    assert result.returncode == 2
    assert "is not an Odoo 19.0 source tree" in result.stderr
    assert "ODOO_SRC_19" in result.stderr


def test_a_missing_python_says_what_to_install(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import harness; harness.find_python('3.12')",
        ],
        env={**os.environ, "PYTHON312": str(tmp_path / "no-python")},
        cwd=HARNESS.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "PYTHON312=" in result.stderr
    assert "is not a Python 3.12" in result.stderr


def test_a_step_without_a_result_line_counts_as_a_failure():
    passed, failed = harness._counts(
        [
            "Odoo 18.0 on Python 3.11, suite: 998 passed, 613 subtests passed in 9s",
            "Odoo 18.0 on Python 3.11, Odoo's runner: "
            "0 failed, 0 error(s) of 202 tests",
            "Odoo 19.0 on Python 3.12, suite: error: no Odoo 19.0 source (exit 2)",
        ]
    )
    assert (passed, failed) == (998 + 202, 1)
