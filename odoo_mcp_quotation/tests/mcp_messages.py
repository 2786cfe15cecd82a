"""MCP messages as clients send them: for these tests, and (loaded without
Odoo, ``tests/helpers/pure_modules.py``) for the outside-in ones."""


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
