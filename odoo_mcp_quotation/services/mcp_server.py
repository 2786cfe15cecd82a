"""The MCP server of this Odoo: its tools and its tasks, per set of scopes."""

import functools

from odoo.modules.module import get_manifest

from ..lib import scopes
from ..mcp.server import McpServer
from .mcp_task_store import QuotationTaskStore
from .mcp_tools import build_tools

INSTRUCTIONS = """\
Create and follow sales quotations in this company's Odoo.
1. Find what the customer wants with search_products and use the product's
   reference in create_quotation; find_customer tells whether the customer exists.
2. create_quotation answers at once with a tracking_id and status "pending":
   Odoo builds the customer, the opportunity and the draft quotation in the
   background, usually within a few seconds.
3. Call get_quotation_status with the tracking_id until the status is "done"
   (it then names the order_reference and the total) or "failed" (it says why).
4. get_quotation shows the lines, taxes, totals and the customer's portal link.
Pass the same conversation_id when you retry a create_quotation: Odoo then
returns the first request instead of making a second quotation."""


@functools.cache
def mcp_server(granted=scopes.ALL):
    """One server per process and set of scopes: it offers only the tools the
    scopes open, and its tool list is built and serialised once."""
    return McpServer(
        name="odoo-mcp-quotation",
        title="Odoo quotations",
        version=get_manifest("odoo_mcp_quotation")["version"],
        instructions=INSTRUCTIONS,
        tools=[
            tool for tool in build_tools() if scopes.TOOL_SCOPES[tool.name] in granted
        ],
        tasks=QuotationTaskStore() if scopes.TASKS_SCOPE in granted else None,
    )
