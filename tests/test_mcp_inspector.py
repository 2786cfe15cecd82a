"""The MCP Inspector CLI (the pinned version in docs/mcp.md) against a real server.

It speaks Streamable HTTP in both eras (2026-07-28 "modern", the handshake
"legacy" one) and legacy SSE; Node and npx must be installed (npx fetches the
pinned Inspector from the npm registry once).
"""

import json
import resource
import shutil
import subprocess

import pytest
from helpers.mcp import TOOLS, port_open

INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"


def inspector(url, key, transport, era, *method):
    npx = shutil.which("npx")
    if not npx:
        pytest.fail("the MCP Inspector CLI needs Node.js and npx on PATH")
    command = [npx, "-y", INSPECTOR, "--cli", url, "--transport", transport]
    command += ["--header", f"Authorization: Bearer {key}"]
    command += ["--protocol-era", era, *method]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        preexec_fn=_lift_memory_limit,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads(result.stdout)


def _lift_memory_limit():
    """Odoo caps the address space of the test process (limit_memory_hard);
    Node reserves more than that for WebAssembly, so its child gets it back."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


@pytest.mark.parametrize(
    ("transport", "era"), [("http", "modern"), ("http", "legacy"), ("sse", "legacy")]
)
def test_the_inspector_cli_lists_and_calls_the_tools(odoo_server, transport, era):
    base = odoo_server.url
    if transport == "sse" and port_open(odoo_server.extra["gevent_url"]):
        base = odoo_server.extra["gevent_url"]  # streams take no HTTP worker there
    url = f"{base}/mcp" + ("/sse" if transport == "sse" else "")
    key = odoo_server.api_key
    listed = inspector(url, key, transport, era, "--method", "tools/list")
    assert sorted(tool["name"] for tool in listed["tools"]) == TOOLS
    called = inspector(
        url,
        key,
        transport,
        era,
        "--method",
        "tools/call",
        "--tool-name",
        "search_products",
        "--tool-arg",
        "query=chair",
    )
    assert called.get("isError") is not True, called
    products = called["structuredContent"]["products"]
    assert [product["reference"] for product in products] == ["CHAIR-ERG"]
