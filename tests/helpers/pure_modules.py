"""Load the addon's Odoo-free modules (the MCP protocol, the schemas, test
messages) without Odoo.

The addon's package ``__init__`` files import its models, and so Odoo; these
modules import only one another. Empty stand-in packages let them load with
their relative imports, exactly as a reader would reuse them.
"""

import importlib
import sys
import types
from pathlib import Path

ADDON = Path(__file__).resolve().parents[2] / "odoo_mcp_quotation"
PACKAGE = "omq_pure"


def load(name):
    """The addon module ``name`` (e.g. ``mcp.protocol``) with no Odoo around it."""
    for package, path in (
        (PACKAGE, ADDON),
        (f"{PACKAGE}.mcp", ADDON / "mcp"),
        (f"{PACKAGE}.lib", ADDON / "lib"),
        (f"{PACKAGE}.tests", ADDON / "tests"),
    ):
        if package not in sys.modules:
            module = types.ModuleType(package)
            module.__path__ = [str(path)]
            sys.modules[package] = module
    return importlib.import_module(f"{PACKAGE}.{name}")
