"""MCP messages as clients send them: for these tests, and (loaded without
Odoo, ``tests/helpers/pure_modules.py``) for the outside-in ones."""

# the tools an agent set up before finds, by these names (a contract)
TOOLS = [
    "create_quotation",
    "find_customer",
    "get_quotation",
    "get_quotation_status",
    "list_recent_quotations",
    "search_products",
]

# the ``_meta`` of a 2026-07-28 request from a client that can be asked (forms)
ASKING_CLIENT_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}},
}


def initialize_message(
    version="2025-11-25", client_name="Claude Code", request_id=1, capabilities=None
):
    """An MCP ``initialize`` request, as a handshake-era client sends it."""
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "initialize",
        "params": {
            "protocolVersion": version,
            "capabilities": capabilities or {},
            "clientInfo": {"name": client_name, "version": "1"},
        },
    }
