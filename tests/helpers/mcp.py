"""Raw MCP over HTTP, as the outside-in tests and benchmarks speak it: what
SDKs hide (status codes, headers, event streams across worker processes)."""

import http.client
import json
import socket
from urllib.parse import urlsplit

from helpers import pure_modules

_messages = pure_modules.load("tests.mcp_messages")
initialize_message, TOOLS = _messages.initialize_message, _messages.TOOLS


def rpc(server, message, headers=None, *, base=None, path="/mcp", method="POST"):
    """One raw HTTP exchange: (status, headers, decoded body or None)."""
    parts = urlsplit(base or server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    body = message if isinstance(message, bytes | None) else json.dumps(message)
    all_headers = {
        "Authorization": f"Bearer {server.api_key}",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        **(headers or {}),
    }
    connection.request(
        method, path, body=body, headers={k: v for k, v in all_headers.items() if v}
    )
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, response.headers, json.loads(data) if data else None


def modern_rpc(server, method, params, capabilities=None):
    """A stateless 2026-07-28 request, as SDK 2.x sends it."""
    params = {
        **params,
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": capabilities or {},
        },
    }
    headers = {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": method}
    if params.get("name") or params.get("taskId"):
        headers["Mcp-Name"] = params.get("name") or params["taskId"]
    return rpc(
        server, {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, headers
    )


def port_open(base):
    parts = urlsplit(base)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=2).close()
    except OSError:
        return False
    return True


class SseStream:
    """A raw SSE stream: reads events as the server writes them; the legacy
    GET, or the answer to a POSTed ``message``."""

    def __init__(self, server, base, message=None, headers=None):
        parts = urlsplit(base)
        self.connection = http.client.HTTPConnection(
            parts.hostname, parts.port, timeout=30
        )
        self.connection.request(
            "GET" if message is None else "POST",
            "/mcp/sse" if message is None else "/mcp",
            body=None if message is None else json.dumps(message),
            headers={
                "Authorization": f"Bearer {server.api_key}",
                "Accept": "text/event-stream",
                **(headers or {}),
            },
        )
        self.response = self.connection.getresponse()
        assert self.response.status == 200
        assert self.response.headers["Content-Type"] == "text/event-stream"

    def next_event(self):
        event, data = None, None
        while True:
            raw = self.response.readline()
            assert raw, "the stream ended"
            line = raw.decode().rstrip("\r\n")
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                data = line[len("data: ") :]
            elif not line and event:
                return event, data

    def close(self):
        """Hang up for real: the response holds the socket open too."""
        self.response.close()
        self.connection.close()


def health_answers(base, timeout=10):
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request("GET", "/web/health")
        return connection.getresponse().status == 200
    finally:
        connection.close()


def asking_session(server):
    """The headers of a new 2025-11-25 session whose client takes forms."""
    message = initialize_message(capabilities={"elicitation": {}})
    _status, headers, _body = rpc(server, message)
    return {
        "Mcp-Session-Id": headers["Mcp-Session-Id"],
        "MCP-Protocol-Version": "2025-11-25",
        "Content-Type": "application/json",
    }


def ask_about_a_desk(server):
    """A 2025-11-25 session whose client takes forms, and a create_quotation
    whose "desk" matches several products, posted on the HTTP port: the
    session's headers, the call, and the stream that answers it (it asks
    which desk was meant, if a stream may be held)."""
    session = asking_session(server)
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {
            "name": "create_quotation",
            "arguments": {
                "customer_name": "Undecided Buyer",
                "email": "undecided@example.com",
                "lines": [{"product": "desk", "quantity": 1}],
            },
        },
    }
    return session, call, SseStream(server, server.url, call, session)
