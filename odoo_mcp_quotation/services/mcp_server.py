"""The MCP server of this Odoo: its tools and its tasks, per set of scopes."""

import functools

from odoo.modules.module import get_manifest
from odoo.tools.misc import file_open

from .. import compat
from ..lib import scopes
from ..mcp.apps import App, Apps
from ..mcp.server import McpServer
from .mcp_task_store import QuotationTaskStore
from .mcp_tools import build_tools

# the instructions, step by step, each with the tools it names: a caller is
# told only of the tools its scopes let it see
INSTRUCTION_STEPS = (
    (
        {"search_products", "create_quotation"},
        "Find what the customer wants with search_products and use the "
        "product's reference in create_quotation.",
    ),
    ({"find_customer"}, "find_customer tells whether the customer exists."),
    (
        {"create_quotation"},
        "create_quotation answers with the finished quotation (status "
        '"done", its order_reference and total) when Odoo builds it within the '
        'call; otherwise with a tracking_id and status "pending": Odoo then builds '
        "the customer, the opportunity and the draft quotation in the background, "
        "usually within a few seconds.",
    ),
    (
        {"get_quotation_status"},
        'Call get_quotation_status with the tracking_id until the status is "done" '
        '(it then names the order_reference and the total) or "failed" (it says why).',
    ),
    (
        {"get_quotation"},
        "get_quotation shows the lines, taxes, totals and the customer's portal link.",
    ),
    (
        {"list_recent_quotations"},
        "list_recent_quotations lists the latest quotations you can read.",
    ),
    (
        {"create_quotation"},
        "Pass the same conversation_id when you retry a create_quotation: Odoo "
        "then returns the first request instead of making a second quotation.",
    ),
)


def instructions(tool_names):
    """The server's instructions for a caller who sees ``tool_names``."""
    seen = set(tool_names)
    steps = [text for needed, text in INSTRUCTION_STEPS if needed <= seen]
    return "\n".join(
        ["Create and follow sales quotations in this company's Odoo."]
        + [f"{number}. {text}" for number, text in enumerate(steps, 1)]
    )


@functools.cache
def _card_html():
    with file_open("odoo_mcp_quotation/static/mcp_apps/quotation_card.html") as html:
        return html.read()


# the quotation card (MCP Apps): claude.ai and other hosts that announce the
# extension show the quotation a tool returned as a card, not as JSON
QUOTATION_CARD = App(
    uri="ui://odoo-mcp-quotation/quotation-card",
    name="quotation_card",
    title="Quotation card",
    description="The quotation a tool returned: customer, lines, taxes, total, "
    "state and links to Odoo and the customer portal, in English or Spanish.",
    html=_card_html,
    tools=(
        "get_quotation",
        "create_quotation",
        "get_quotation_status",
        "update_quotation",
        "send_quotation",
    ),
)


@functools.cache
def mcp_server(granted=scopes.ALL):
    """One server per process and set of scopes: it offers only the tools the
    scopes open, and its tool list is built and serialised once."""
    tools = [tool for tool in build_tools() if scopes.TOOL_SCOPES[tool.name] in granted]
    return McpServer(
        name="odoo-mcp-quotation",
        title="Odoo quotations",
        version=get_manifest("odoo_mcp_quotation")["version"],
        instructions=instructions(tool.name for tool in tools),
        tools=tools,
        tasks=QuotationTaskStore() if scopes.TASKS_SCOPE in granted else None,
        apps=Apps([QUOTATION_CARD]),
        retried=compat.retried_by_odoo,
    )
