"""The Odoo side of the MCP server's tools, over the services.

Thin on purpose: every tool validates its arguments with the shared schemas
and makes one ``QuotationService`` call; the protocol layer does the rest.
"""

from odoo.exceptions import UserError

from ..lib.query_schema import (
    CustomerList,
    CustomerQuery,
    ProductList,
    ProductQuery,
    Quotation,
    QuotationList,
    QuotationQuery,
    QuotationQueued,
    QuotationSent,
    QuotationStatus,
    QuotationUpdated,
    RecentQuotationsQuery,
    StatusQuery,
    input_schema,
    output_schema,
    parse_query,
)
from ..lib.request_schema import (
    QuotationUpdateCall,
    RequestInvalid,
    SendQuotationRequest,
    inline_json_schema,
    request_json_schema,
)
from ..mcp.elicitation import InputRequired
from ..mcp.errors import ToolError
from ..mcp.tools import Tool
from .quotation_service import QuotationService
from .quotation_update import QuotationUpdateService

# how long a create_quotation call waits for its quotation (an idle queue
# builds one in about 0.1 s)
MCP_WAIT_SECONDS = 5

PERSONAL_DATA = (
    " Returns personal data (customers' names, e-mails, phones): use it for "
    "the customer in the conversation only, and never repeat it to anyone else."
)


def call_service(env, call, savepoint=True):
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

        return call_service(env, call, savepoint=False)

    return Tool(
        input_schema=input_schema(model),
        output_schema=output_schema(answer),
        handler=handler,
        **tool,
    )


def _create_quotation(env, arguments, answers=None):
    """Queue the request and, when the queue is idle, build it within the
    call; a client that can answer is first asked which product it meant for
    each ambiguous or unknown one (``answers``)."""
    service = QuotationService(env)

    def call():
        choices = {}
        if answers is not None:
            choices = _chosen_products(
                env, service.product_questions(arguments), answers
            )
        return service.create_quotation(arguments, "mcp", products=choices)

    queued = call_service(env, call)
    finished = call_service(
        env,
        lambda: service.finished_within(queued["tracking_id"], MCP_WAIT_SECONDS),
        savepoint=False,  # it commits the task first
    )
    return finished or queued


def _chosen_products(env, questions, answers, refusal=None):
    """``{line number: reference}`` from the answers; InputRequired for the
    questions not answered yet, ToolError when the user would not choose
    (``refusal(number)`` says so, if given)."""
    choices, unanswered = {}, {}
    for number, candidates in questions.items():
        key = f"line-{number}"
        answer = answers.get(key)
        if answer is None:
            unanswered[key] = _product_question(env, number, candidates)
            continue
        chosen = (answer.get("content") or {}).get("product")
        if answer.get("action") != "accept" or chosen not in dict(candidates):
            if refusal:
                raise ToolError(refusal(number))
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


def _update_quotation(env, arguments, answers=None):
    """Change the caller's own quotation; a client that can answer is first
    asked which product it meant for each ambiguous or unknown one."""
    service = QuotationUpdateService(env)

    def refusal(number):
        return env._(
            "Nothing was changed: no product was chosen for line %(number)s.",
            number=number,
        )

    def call():
        call_arguments = parse_query(QuotationUpdateCall, arguments)
        identifier = call_arguments.quotation
        change = call_arguments.model_dump(exclude={"quotation"}, exclude_none=True)
        choices = {}
        if answers is not None:
            choices = _chosen_products(
                env,
                service.product_questions(identifier, change),
                answers,
                refusal,
            )
        return service.update(identifier, change, "mcp", products=choices)

    return call_service(env, call)


def _get_quotation_status(env, arguments):
    service = QuotationService(env)
    return call_service(
        env,
        lambda: service.status(parse_query(StatusQuery, arguments).tracking_id),
        savepoint=False,
    )


def _send_quotation(env, arguments, answers=None):
    """E-mail the quotation once the person confirms: asked where the client
    can be (``answers`` not None), whatever the model passed as ``confirm``;
    else ``confirm: true`` must be given."""

    def ask(order):
        answer = answers.get("confirm")
        if answer is None:
            raise InputRequired({"confirm": _send_question(env, order)})
        return (
            answer.get("action") == "accept"
            and (answer.get("content") or {}).get("confirm") is True
        )

    service = QuotationService(env)
    asking = ask if answers is not None else None
    return call_service(env, lambda: service.send_quotation(arguments, ask=asking))


def _send_question(env, order):
    """A form elicitation: may this quotation go to the customer now?"""
    return {
        "message": env._(
            "E-mail quotation %(reference)s (%(total)s %(currency)s) to %(email)s now?",
            reference=order.name,
            total=f"{order.amount_total:.2f}",
            currency=order.currency_id.name,
            email=order.partner_id.email,
        ),
        "requestedSchema": {
            "type": "object",
            "properties": {
                "confirm": {"type": "boolean", "title": env._("Send it now")}
            },
            "required": ["confirm"],
        },
    }


def build_tools():
    return [
        Tool(
            name="create_quotation",
            title="Create a quotation",
            description=(
                "Ask Odoo for a draft sales quotation for a customer (found by "
                "e-mail or phone, or created) and a list of products with "
                "quantities. When Odoo is idle, answers with the finished "
                "quotation (status 'done': order_reference, total, portal_url); "
                "else with a tracking_id and status 'pending': follow it with "
                "get_quotation_status. Give a "
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
        Tool(
            name="send_quotation",
            title="E-mail a quotation to its customer",
            description=(
                "E-mail one of your own quotations (by reference or tracking_id) "
                "to its customer with Odoo's template and the portal link, as "
                "its salesperson. Each call sends one e-mail: ask the person "
                "first and pass confirm: true (clients that can ask are asked). "
                "email to_send means not yet sent: Odoo retries on its own."
            ),
            input_schema=inline_json_schema(SendQuotationRequest),
            output_schema=output_schema(QuotationSent),
            handler=_send_quotation,
            asks=True,
            read_only=False,
            destructive=False,
            idempotent=False,
        ),
        Tool(
            name="update_quotation",
            title="Change a quotation",
            description=(
                "Change a quotation you made while the customer has not "
                "confirmed it: give each product with its new quantity (a "
                "product not on it is added; quantity 0 removes its line). "
                "Refused once confirmed or when someone else edited it since "
                "you read it: pass the version from get_quotation as "
                "expected_version. Give an idempotency_key so that a retry "
                "changes nothing twice."
            ),
            input_schema=input_schema(QuotationUpdateCall),
            output_schema=output_schema(QuotationUpdated),
            handler=_update_quotation,
            asks=True,
            read_only=False,
            destructive=True,  # removes lines
            idempotent=False,  # only with the same idempotency_key
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
