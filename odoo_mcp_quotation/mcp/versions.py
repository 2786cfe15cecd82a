"""MCP protocol revisions, and the HTTP headers and ``_meta`` keys they use.

No Odoo here. The revisions come from the official ``mcp_types`` helpers:
the handshake ones (``initialize`` opens a session) and the stateless
2026-07-28 one, where every request carries its version and client
capabilities in ``_meta``.
"""

import base64
import binascii
from contextlib import suppress

import mcp_types as types
from mcp_types.version import (
    HANDSHAKE_PROTOCOL_VERSIONS,
    MODERN_PROTOCOL_VERSIONS,
    is_version_at_least,
)

from ..lib.json_body import FORBIDDEN_IN_LINE

# Streamable HTTP came with 2025-03-26; legacy SSE speaks every handshake one.
HANDSHAKE_HTTP_VERSIONS = tuple(
    v for v in HANDSHAKE_PROTOCOL_VERSIONS if is_version_at_least(v, "2025-03-26")
)
LEGACY_SSE_VERSIONS = HANDSHAKE_PROTOCOL_VERSIONS
STREAMABLE_HTTP_VERSIONS = (*HANDSHAKE_HTTP_VERSIONS, *MODERN_PROTOCOL_VERSIONS)
# served when a request after initialize carries no MCP-Protocol-Version header
DEFAULT_VERSION = types.DEFAULT_NEGOTIATED_VERSION
BATCH_VERSIONS = ("2025-03-26",)  # added in 2025-03-26, removed in 2025-06-18
STRUCTURED_OUTPUT_SINCE = "2025-06-18"
TASKS_SINCE = "2025-11-25"

# list results of 2026-07-28 may be cached this long by the client: the tool
# list only changes when the module is upgraded. "private": what a caller is
# offered may depend on who calls.
LIST_TTL_MS = 3_600_000
LIST_CACHE_SCOPE = "private"

PROTOCOL_VERSION_HEADER = "mcp-protocol-version"
SESSION_HEADER = "mcp-session-id"
METHOD_HEADER = "mcp-method"
NAME_HEADER = "mcp-name"
CLIENT_INFO_MAX_CHARS = 128
# the params that 2026-07-28 clients mirror in the Mcp-Name header
NAME_PARAMS = {
    "tools/call": "name",
    "tasks/get": "taskId",
    "tasks/update": "taskId",
    "tasks/cancel": "taskId",
}


def is_modern(version):
    """2026-07-28 and later: stateless, ``_meta`` on every request."""
    return version in MODERN_PROTOCOL_VERSIONS


def client_label(reported):
    """What a client says of itself, as admins see it: one short line, whatever
    it sends."""
    return FORBIDDEN_IN_LINE.sub("\ufffd", reported)[:CLIENT_INFO_MAX_CHARS]


def reported_client_name(message):
    """The client's name in a 2026-07-28 request's ``_meta`` (as a label), or
    None; a handshake-era client said it once, at ``initialize``."""
    params = message.get("params") if isinstance(message, dict) else None
    meta = params.get("_meta") if isinstance(params, dict) else None
    info = meta.get(types.CLIENT_INFO_META_KEY) if isinstance(meta, dict) else None
    name = info.get("name") if isinstance(info, dict) else None
    return client_label(name) if isinstance(name, str) and name.strip() else None


def decode_name_header(value):
    """An ``Mcp-Name`` value: plain ASCII, or ``=?base64?…?=`` for anything else."""
    if value and value.startswith("=?base64?") and value.endswith("?="):
        with suppress(binascii.Error, UnicodeDecodeError):
            return base64.b64decode(value[9:-2], validate=True).decode()
    return value
