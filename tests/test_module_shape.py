"""The addon's shape, as OCA's queue_job has it: Odoo-facing rooms on top
(``controllers/``, ``models/``), the services below them, the pure MCP
protocol below those and the Odoo-free ``lib/`` at the bottom; no import back
up, no two files importing each other, no file holding over a quarter of the
module. Read from the source, without Odoo."""

import ast
from pathlib import Path

import pytest

ADDON = Path(__file__).resolve().parent.parent / "odoo_mcp_quotation"
LAYERS = {
    "controllers": 3,
    "models": 3,
    "services": 2,
    "compat": 2,
    "mcp": 1,
    "lib": 0,
}


def addon_files():
    return sorted(
        path
        for path in ADDON.rglob("*.py")
        if "tests" not in path.relative_to(ADDON).parts
        and "migrations" not in path.relative_to(ADDON).parts
    )


def module_name(path):
    parts = path.relative_to(ADDON).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def own_imports(path):
    """The addon modules ``path`` imports (relative imports), by dotted name."""
    package = module_name(path).split(".")[:-1]
    known = {module_name(file) for file in addon_files()}
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = (
                package[: len(package) - node.level + 1] if node.level > 1 else package
            )
            target = ".".join(filter(None, [*base, node.module or ""]))
            names = [alias.name for alias in node.names]
            submodules = [f"{target}.{name}".lstrip(".") for name in names]
            found.update(name for name in submodules if name in known)
            if target in known and not any(name in known for name in submodules):
                found.add(target)
    return found


def odoo_imports(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] == "odoo")
        elif (
            isinstance(node, ast.ImportFrom)
            and not node.level
            and (node.module or "").partition(".")[0] == "odoo"
        ):
            yield node.module


def layer(name):
    return LAYERS.get(name.split(".")[0])


GRAPH = {
    module_name(path): own_imports(path)
    for path in addon_files()
    if path.name != "__init__.py"
}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_module_imports_a_layer_above_its_own(module):
    upward = {
        imported
        for imported in GRAPH[module]
        if layer(imported) is not None
        and layer(module) is not None
        and layer(imported) > layer(module)
    }
    assert not upward, f"{module} imports {sorted(upward)} from a layer above it"


@pytest.mark.parametrize("folder", ["lib", "mcp"])
def test_the_odoo_free_folders_import_no_odoo(folder):
    offenders = {
        module_name(path): sorted(odoo_imports(path))
        for path in (ADDON / folder).glob("*.py")
        if any(odoo_imports(path))
    }
    assert not offenders


def test_no_two_modules_import_each_other():
    def reaches(start, goal, seen):
        for following in GRAPH.get(start, ()):
            if following == goal:
                return True
            if following not in seen:
                seen.add(following)
                if reaches(following, goal, seen):
                    return True
        return False

    cycles = sorted(module for module in GRAPH if reaches(module, module, {module}))
    assert not cycles, f"import cycles through {cycles}"


def test_no_file_holds_over_a_quarter_of_the_module():
    sizes = {path: len(path.read_text().splitlines()) for path in addon_files()}
    total = sum(sizes.values())
    too_big = {
        str(path.relative_to(ADDON)): lines
        for path, lines in sizes.items()
        if lines > total / 4
    }
    assert not too_big, f"of {total} lines: {too_big}"


MCP_MODULE_MAX_LINES = 450


def test_no_mcp_module_holds_over_450_lines():
    """The protocol layer stays split along the SDK's seams."""
    too_big = {
        path.name: lines
        for path in (ADDON / "mcp").glob("*.py")
        if (lines := len(path.read_text().splitlines())) > MCP_MODULE_MAX_LINES
    }
    assert not too_big, too_big
