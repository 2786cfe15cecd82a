"""The Odoo side of the MCP server: tools and tasks over the services.

Thin on purpose: every tool validates its arguments with the shared schemas
and makes one ``QuotationService`` call; the protocol module does the rest.
"""

import functools
import time

import mcp_types

import odoo
from odoo.exceptions import MissingError, UserError
from odoo.modules.module import get_manifest

from ..lib import scopes
from ..lib.query_schema import (
    CustomerList,
    CustomerQuery,
    ProductList,
    ProductQuery,
    Quotation,
    QuotationList,
    QuotationQuery,
    QuotationQueued,
    QuotationStatus,
    RecentQuotationsQuery,
    StatusQuery,
    input_schema,
    output_schema,
    parse_query,
)
from ..lib.request_schema import RequestInvalid, request_json_schema
from ..mcp.elicitation import InputRequired
from ..mcp.errors import INVALID_PARAMS, McpError, ToolError
from ..mcp.server import McpServer
from ..mcp.tasks import TASK_POLL_INTERVAL_MS
from ..mcp.tools import Tool
from .quotation_service import QuotationService

PERSONAL_DATA = (
    " Returns personal data (customers' names, e-mails, phones): use it for "
    "the customer in the conversation only, and never repeat it to anyone else."
)

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

TASK_STATUSES = {
    "pending": "working",
    "processing": "working",
    "done": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}
TASK_PAGE_SIZE = 20
TASK_WAIT_STEP_SECONDS = 0.25
# tasks/result waits for the quotation only in the gevent process, where a
# waiting request costs a greenlet; a prefork worker answers at once
EVENTED_TASK_WAIT_SECONDS = 25.0


def _run(env, call, savepoint=True):
    """Call the service, in a savepoint unless it only reads (that saves two
    statements); what the model can fix becomes a ToolError."""
    try:
        if not savepoint:
            return call()
        with env.cr.savepoint():
            return call()
    except RequestInvalid as error:
        raise ToolError(
            env._("The arguments are not valid: fix these fields and call again."),
            error.problems,
        ) from None
    except UserError as error:  # MissingError, AccessError, ValidationError too
        raise ToolError(str(error.args[0])) from None


def _query_tool(model, answer, method, **tool):
    """A read-only tool: validate with ``model``, call ``QuotationService.method``."""

    def handler(env, arguments):
        def call():
            query = parse_query(model, arguments)
            return getattr(QuotationService(env), method)(**query.model_dump())

        return _run(env, call, savepoint=False)

    return Tool(
        input_schema=input_schema(model),
        output_schema=output_schema(answer),
        handler=handler,
        **tool,
    )


def _create_quotation(env, arguments, answers=None):
    """Queue the request; a client that can answer is first asked which
    product it meant for each ambiguous or unknown one (``answers``)."""
    service = QuotationService(env)

    def call():
        choices = {}
        if answers is not None:
            choices = _chosen_products(
                env, service.product_questions(arguments), answers
            )
        return service.create_quotation(arguments, "mcp", products=choices)

    return _run(env, call)


def _chosen_products(env, questions, answers):
    """``{line number: reference}`` from the answers; InputRequired for the
    questions not answered yet, ToolError when the user would not choose."""
    choices, unanswered = {}, {}
    for number, candidates in questions.items():
        key = f"line-{number}"
        answer = answers.get(key)
        if answer is None:
            unanswered[key] = _product_question(env, number, candidates)
            continue
        chosen = (answer.get("content") or {}).get("product")
        if answer.get("action") != "accept" or chosen not in dict(candidates):
            raise ToolError(
                env._(
                    "No quotation was made: no product was chosen for line %(number)s.",
                    number=number,
                )
            )
        choices[number] = chosen
    if unanswered:
        raise InputRequired(unanswered)
    return choices


def _product_question(env, number, candidates):
    """A form elicitation: pick one of the candidates for a line."""
    return {
        "message": env._(
            "Which product did you mean for line %(number)s?", number=number
        ),
        "requestedSchema": {
            "type": "object",
            "properties": {
                "product": {
                    "type": "string",
                    "title": env._("Product"),
                    "oneOf": [
                        {"const": reference, "title": name}
                        for reference, name in candidates
                    ],
                }
            },
            "required": ["product"],
        },
    }


def _get_quotation_status(env, arguments):
    service = QuotationService(env)
    return _run(
        env,
        lambda: service.status(parse_query(StatusQuery, arguments).tracking_id),
        savepoint=False,
    )


def build_tools():
    return [
        Tool(
            name="create_quotation",
            title="Create a quotation",
            description=(
                "Ask Odoo for a draft sales quotation for a customer (found by "
                "e-mail or phone, or created) and a list of products with "
                "quantities. Answers at once with a tracking_id and status "
                "'pending'; follow it with get_quotation_status. Give a "
                "conversation_id so that a retry never makes a second quotation."
            ),
            input_schema=request_json_schema(),
            output_schema=output_schema(QuotationQueued),
            handler=_create_quotation,
            asks=True,
            read_only=False,
            destructive=False,
            idempotent=False,  # only with the same conversation_id
            task_support="optional",
        ),
        Tool(
            name="get_quotation_status",
            title="Quotation request status",
            description=(
                "Where a create_quotation request stands: pending or processing "
                "(ask again in a second or two), done (with order_reference, "
                "total and portal_url) or failed (with the reason)."
            ),
            input_schema=input_schema(StatusQuery),
            output_schema=output_schema(QuotationStatus),
            handler=_get_quotation_status,
        ),
        _query_tool(
            ProductQuery,
            ProductList,
            "search_products",
            name="search_products",
            title="Search products",
            description=(
                "Sellable products whose name, internal reference or barcode "
                "contains the query, with price, unit and (with Inventory) the "
                "quantity on hand. Use the reference in create_quotation."
            ),
        ),
        _query_tool(
            CustomerQuery,
            CustomerList,
            "find_customer",
            name="find_customer",
            title="Find a customer",
            description=(
                "Existing customers whose name or e-mail contains the query, or "
                "whose phone matches it." + PERSONAL_DATA
            ),
            personal_data=True,
        ),
        _query_tool(
            QuotationQuery,
            Quotation,
            "get_quotation",
            name="get_quotation",
            title="Read a quotation",
            description=(
                "A quotation by its reference (e.g. S00042): state, customer, "
                "lines, taxes, totals and the link the customer can open."
                + PERSONAL_DATA
            ),
            personal_data=True,
        ),
        _query_tool(
            RecentQuotationsQuery,
            QuotationList,
            "list_recent_quotations",
            name="list_recent_quotations",
            title="Recent quotations",
            description=(
                "The newest quotations and sales orders you can see, optionally "
                "for one customer." + PERSONAL_DATA
            ),
            personal_data=True,
        ),
    ]


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
        tasks=QuotationTasks() if scopes.TASKS_SCOPE in granted else None,
    )


class QuotationTasks:
    """MCP tasks (2025-11-25, and the 2026-07-28 tasks extension) backed by
    ``quotation.task``: taskId = tracking id."""

    def start(self, env, tool, arguments):
        service = QuotationService(env)
        return _mcp_task(env, _run(env, lambda: service.submit(arguments, "mcp")))

    def get(self, env, task_id):
        return _mcp_task(env, self._find(env, task_id))

    def wait(self, env, task_id):
        """Poll in fresh transactions: the request's own snapshot never changes."""
        timeout = EVENTED_TASK_WAIT_SECONDS if odoo.evented else 0
        deadline = time.monotonic() + timeout
        while True:
            with env.registry.cursor() as cr:
                fresh = env(cr=cr)
                task = _mcp_task(fresh, self._find(fresh, task_id))
            if task.status in ("completed", "failed", "cancelled"):
                return task
            if time.monotonic() >= deadline:
                return task
            time.sleep(TASK_WAIT_STEP_SECONDS)

    def result(self, env, task_id):
        with env.registry.cursor() as cr:
            fresh = env(cr=cr)
            task = self._find(fresh, task_id)
            if task.state == "done":
                return QuotationService(fresh).queued(task)
            raise ToolError(task.error or env._("The quotation request was cancelled."))

    def list(self, env, cursor):
        if cursor and not cursor.isdigit():
            raise McpError(INVALID_PARAMS, "Invalid cursor: pass nextCursor.")
        tasks = QuotationService(env).list_tasks(
            "mcp", int(cursor or 0), limit=TASK_PAGE_SIZE + 1
        )
        next_cursor = None
        if len(tasks) > TASK_PAGE_SIZE:
            tasks = tasks[:TASK_PAGE_SIZE]
            next_cursor = str(tasks[-1].id)
        return [_mcp_task(env, task) for task in tasks], next_cursor

    def cancel(self, env, task_id):
        task = self._find(env, task_id)
        if not QuotationService(env).cancel(task):
            raise McpError(
                INVALID_PARAMS,
                f"Cannot cancel the task: it is already {TASK_STATUSES[task.state]}.",
            )
        return _mcp_task(env, task)

    def _find(self, env, task_id):
        try:
            return QuotationService(env).find_task(task_id)
        except MissingError:
            raise McpError(INVALID_PARAMS, f"Task not found: {task_id}.") from None


def _mcp_task(env, task):
    """The request as an MCP task; its message is the one REST's status gives."""
    return mcp_types.Task(
        task_id=task.tracking_id,
        status=TASK_STATUSES[task.state],
        status_message=QuotationService(env).state_message(task),
        created_at=task.create_date.isoformat() + "Z",
        last_updated_at=task.write_date.isoformat() + "Z",
        ttl=None,
        poll_interval=TASK_POLL_INTERVAL_MS,
    )
