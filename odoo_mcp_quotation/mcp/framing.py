"""How MCP messages are written on the wire: compact JSON, and SSE events.

A leaf module of its own (no Odoo, nothing of ours), so that the model that
relays legacy SSE streams can frame its events without importing the protocol.
"""

import json

EVENT_STREAM = "text/event-stream"
SSE_KEEPALIVE = b": keep-alive\n\n"


def dumps(value):
    """Compact UTF-8 JSON, as sent on the wire."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def sse_event(data, event="message"):
    return f"event: {event}\ndata: {data}\n\n".encode()
