"""What an agent may do: the scope vocabulary, defined once, free of Odoo.

The same names govern Odoo API keys (per integration user, chosen by an
administrator) and OAuth access tokens (what the user consented to, never more
than the user's own scopes). REST routes, MCP tools and MCP tasks each need
exactly one scope.
"""

CREATE = "quotations:create"
READ = "quotations:read"
CUSTOMERS = "customers:read"
SEND = "quotations:send"
UPDATE = "quotations:update"


def _lt(text):
    """Marks ``text`` for Odoo's translation export (which extracts ``_lt``
    calls) and returns it as is: Odoo translates it where it is shown."""
    return text


# scope -> what it lets an agent do, as shown on the consent page and in Odoo
SCOPES = {
    CREATE: _lt("Create draft quotations and follow their status."),
    READ: _lt("Search products and read quotations and sales orders."),
    CUSTOMERS: _lt(
        "Find customers, with their e-mails and phone numbers (personal data)."
    ),
    SEND: _lt("E-mail one's own quotations to their customers, once confirmed."),
    UPDATE: _lt("Change the quotations one made while they are not confirmed."),
}
ALL = frozenset(SCOPES)
# what a new integration user's API keys may do: a voice agent that takes orders
# (a scope added later, such as SEND, is never given to existing users: their
# scopes are stored as they were chosen)
DEFAULT = frozenset({CREATE})

TOOL_SCOPES = {
    "create_quotation": CREATE,
    "get_quotation_status": CREATE,
    "search_products": READ,
    "get_quotation": READ,
    "list_recent_quotations": READ,
    "find_customer": CUSTOMERS,
    "send_quotation": SEND,
    "update_quotation": UPDATE,
}
# MCP tasks (tasks/get, tasks/result, ...) follow one's own create_quotation calls
TASKS_SCOPE = CREATE
ROUTE_SCOPES = {
    "POST /api/quotation/async": CREATE,
    "GET /api/quotation/status/<tracking_id>": CREATE,
    "POST /api/quotation/<reference>/send": SEND,
    "POST /api/quotation/<reference>/update": UPDATE,
}


class UnknownScope(ValueError):
    """A scope name outside the vocabulary."""


def parse(text, strict=True):
    """The scopes of a space-separated string, as a frozenset.

    ``strict`` refuses unknown names (what an administrator types); otherwise
    they are dropped (what a stored grant may hold after the vocabulary moved).
    """
    names = set((text or "").split())
    unknown = names - ALL
    if unknown and strict:
        raise UnknownScope(
            f"Unknown scope(s): {', '.join(sorted(unknown))}. "
            f"Use any of: {', '.join(sorted(ALL))}."
        )
    return frozenset(names & ALL)


def format_scopes(scopes):
    """The canonical space-separated form, in the vocabulary's order."""
    return " ".join(name for name in SCOPES if name in scopes)


def reach(scopes):
    """The MCP tools and REST routes that ``scopes`` open, for people to read."""
    tools = [tool for tool, scope in TOOL_SCOPES.items() if scope in scopes]
    routes = [route for route, scope in ROUTE_SCOPES.items() if scope in scopes]
    return tools, routes


def required_scope(message):
    """The scope one JSON-RPC message needs, or None when it needs none.

    Unknown tools need none here: the protocol layer answers them itself.
    """
    if not isinstance(message, dict):
        return None
    method = message.get("method")
    if not isinstance(method, str):
        return None
    if method == "tools/call":
        params = message.get("params")
        name = params.get("name") if isinstance(params, dict) else None
        return TOOL_SCOPES.get(name) if isinstance(name, str) else None
    if method.startswith("tasks/"):
        return TASKS_SCOPE
    return None


def missing_scope(payload, granted):
    """The first scope a decoded JSON-RPC payload (one message or a batch) needs
    beyond ``granted``, or None."""
    messages = payload if isinstance(payload, list) else [payload]
    for message in messages:
        needed = required_scope(message)
        if needed and needed not in granted:
            return needed
    return None
