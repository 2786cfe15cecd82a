"""MCP errors: the JSON-RPC codes, and the two ways a request goes wrong.

No Odoo here. :class:`McpError` is a JSON-RPC error (the request itself is
wrong); :class:`ToolError` is a tool call the model can correct, answered as
a result with ``isError``.
"""

import mcp_types as types
from mcp_types import jsonrpc

# JSON-RPC codes: the standard ones, the MCP ones, and ours in the
# implementation-defined band (missing or wrong API key, and so on).
PARSE_ERROR = jsonrpc.PARSE_ERROR
INVALID_REQUEST = jsonrpc.INVALID_REQUEST
METHOD_NOT_FOUND = jsonrpc.METHOD_NOT_FOUND
INVALID_PARAMS = jsonrpc.INVALID_PARAMS
INTERNAL_ERROR = jsonrpc.INTERNAL_ERROR
HEADER_MISMATCH = jsonrpc.HEADER_MISMATCH
UNSUPPORTED_PROTOCOL_VERSION = jsonrpc.UNSUPPORTED_PROTOCOL_VERSION
UNAUTHENTICATED = -32010
FORBIDDEN = -32011
SESSION_NOT_FOUND = -32012
RATE_LIMITED = -32013

INTERNAL_MESSAGE = "Internal error: the server logged the details. Try again later."


class McpError(Exception):
    """A JSON-RPC error: the request itself is wrong (unknown method, bad params)."""

    def __init__(self, code, message, data=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def error(self):
        error = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class ToolError(Exception):
    """A tool call the model can correct: answered as a result with ``isError``.

    ``problems`` is ``[{field, message}]`` so the model sees every field to fix.
    """

    def __init__(self, message, problems=()):
        super().__init__(message)
        self.message = message
        self.problems = list(problems)

    def text(self):
        lines = [self.message]
        lines += [f"- {p['field']}: {p['message']}" for p in self.problems]
        return "\n".join(lines)


def error_response(request_id, code, message, data=None):
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": McpError(code, message, data).error(),
    }


def unsupported_version_error(requested, supported, request_id=None):
    """The -32022 error whose ``supported`` list lets a client retry or fall back."""
    data = types.UnsupportedProtocolVersionErrorData(
        supported=list(supported), requested=requested
    ).model_dump(mode="json", by_alias=True)
    return error_response(
        request_id,
        UNSUPPORTED_PROTOCOL_VERSION,
        f"Unsupported MCP protocol version {requested!r}: use one of "
        f"{', '.join(supported)} (initialize or server/discover tells which).",
        data,
    )


def problems(error):
    """A pydantic ValidationError as ``[{field, message}]``."""
    return [
        {"field": ".".join(str(p) for p in item["loc"]), "message": item["msg"]}
        for item in error.errors(include_url=False, include_context=False)
    ]


def invalid_params(method, error):
    """The McpError for params that the official model of ``method`` refuses."""
    return McpError(INVALID_PARAMS, f"Invalid params for {method}.", problems(error))
