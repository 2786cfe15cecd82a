"""What queries take and what every answer returns, for REST and MCP alike.

Like ``request_schema`` this imports no Odoo. The MCP tools take their input
and output schemas from these models, the OpenAPI document its response
schemas, and ``QuotationService`` builds every answer as one of them.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .request_schema import Line, inline_json_schema, parse_object


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- arguments
class StatusQuery(_Query):
    tracking_id: Line = Field(
        min_length=1,
        max_length=64,
        description="The tracking id that create_quotation returned.",
    )


def _text_query(min_length, description, example):
    return Field(
        min_length=min_length,
        max_length=128,
        description=description,
        examples=[example],
    )


def _limit(default, most):
    return Field(default=default, ge=1, le=most, description="At most this many.")


def _offset():
    return Field(
        default=0,
        ge=0,
        le=10_000,
        description="Skip this many: the previous answer's next_offset.",
    )


def _next_offset():
    return Field(
        default=None,
        description="More match than this answer holds (it stays within what "
        "an AI client takes from one result): ask again with this offset.",
    )


class ProductQuery(_Query):
    query: Line = _text_query(
        1, "Part of the product's name, its internal reference or barcode.", "desk"
    )
    limit: int = _limit(10, 50)
    offset: int = _offset()


class CustomerQuery(_Query):
    query: Line = _text_query(
        2,
        "Part of the customer's name or e-mail, or a phone number.",
        "ana@example.com",
    )
    limit: int = _limit(5, 20)
    offset: int = _offset()


class QuotationQuery(_Query):
    reference: Line = Field(
        min_length=1,
        max_length=64,
        description="The quotation's reference, as in get_quotation_status's "
        "order_reference (e.g. S00042).",
        examples=["S00042"],
    )


class RecentQuotationsQuery(_Query):
    limit: int = _limit(10, 50)
    offset: int = _offset()
    customer: Line | None = Field(
        default=None,
        max_length=128,
        description="Only quotations of customers whose name contains this.",
    )


# ---------------------------------------------------------------- answers
TaskState = Literal["pending", "processing", "done", "failed", "cancelled"]


class QuotationStatus(_Answer):
    """A quotation request as the agent follows it."""

    tracking_id: str = Field(description="Keep it to ask for the status.")
    status: TaskState = Field(
        description="pending and processing: ask again in a second or two; done: "
        "the quotation exists; failed: see error."
    )
    message: str = Field(description="A sentence the agent can read aloud.")
    attempts: int
    created_at: str = Field(description="ISO 8601, UTC.")
    order_reference: str | None = Field(default=None, examples=["S00042"])
    total: float | None = None
    currency: str | None = Field(default=None, examples=["EUR"])
    portal_url: str | None = Field(
        default=None, description="Link the customer can open to see and sign."
    )
    error: str | None = Field(default=None, description="Why it failed.")
    email: Literal["to_send", "sent", "failed"] | None = Field(
        default=None,
        description="The quotation's e-mail to the customer, when one was asked "
        "for: to_send (not yet sent: retried on its own), sent or failed.",
    )
    email_error: str | None = Field(
        default=None, description="Why the e-mail could not be sent yet."
    )


class Product(_Answer):
    reference: str | None = Field(description="Internal reference, if any.")
    name: str
    barcode: str | None = None
    price: float = Field(description="Sales price of one unit, before taxes.")
    currency: str
    unit: str
    on_hand: float | None = Field(
        default=None, description="Quantity in stock (only with Inventory)."
    )


class ProductList(_Answer):
    products: list[Product]
    next_offset: int | None = _next_offset()


class Customer(_Answer):
    id: int
    name: str
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    is_company: bool


class CustomerList(_Answer):
    customers: list[Customer]
    next_offset: int | None = _next_offset()


class QuotationLine(_Answer):
    product_id: int = Field(description="The product's id in Odoo.")
    product_reference: str | None = None
    product: str
    description: str
    quantity: float
    unit: str
    unit_price: float
    discount: float = Field(description="Discount in percent.")
    subtotal: float = Field(description="Line total before taxes.")


class Quotation(_Answer):
    reference: str
    state: Literal["draft", "sent", "sale", "cancel"] = Field(
        description="draft and sent: a quotation; sale: confirmed; cancel: cancelled."
    )
    customer: str
    customer_email: str | None = None
    date: str
    valid_until: str | None = None
    salesperson: str | None = None
    lines: list[QuotationLine]
    amount_untaxed: float
    amount_tax: float
    amount_total: float
    currency: str
    portal_url: str
    odoo_url: str | None = Field(
        default=None, description="The quotation in Odoo, for the salesperson."
    )
    version: str | None = Field(
        default=None,
        description="Changes with every edit: give it as update_quotation's "
        "expected_version.",
    )


class QuotationQueued(QuotationStatus):
    """The answer to a new request, over REST and MCP alike: its status (the
    first request's, for a retry), where to follow it, and the quotation once
    built (a status poll stays small: it names the reference and total only)."""

    status_url: str = Field(description="GET it with the same API key.")
    quotation: Quotation | None = Field(
        default=None,
        description="Once done: the quotation, as get_quotation returns it.",
    )


class QuotationSent(_Answer):
    """The answer to a send: sent, or not yet (retried on its own), or failed."""

    reference: str = Field(examples=["S00042"])
    email: Literal["to_send", "sent", "failed"] = Field(
        description="sent: e-mailed now; to_send: not yet, retried on its own; "
        "failed: given up, see error."
    )
    message: str = Field(description="A sentence the agent can read aloud.")
    error: str | None = Field(default=None, description="Why it is not sent yet.")
    quotation: Quotation = Field(
        description="The quotation as it is now, as get_quotation returns it."
    )


class QuotationSummary(_Answer):
    reference: str
    customer: str
    state: Literal["draft", "sent", "sale", "cancel"]
    date: str
    amount_total: float
    currency: str


class QuotationList(_Answer):
    quotations: list[QuotationSummary]
    next_offset: int | None = _next_offset()


class Problem(_Answer):
    field: str
    message: str


class ErrorBody(_Answer):
    code: str = Field(examples=["invalid_request"])
    message: str
    details: list[Problem] = []


class ErrorResponse(_Answer):
    error: ErrorBody
    message: str = Field(
        description="The same sentence, for agents that read it aloud."
    )


class QueueHealth(_Answer):
    pending: int
    processing: int
    failed_last_hour: int
    oldest_pending_age_s: float | None


class Health(_Answer):
    """Only ``ok`` without an administrator's key."""

    ok: bool
    database: str | None = None
    version: str | None = None
    queue: QueueHealth | None = None


# ---------------------------------------------------------------- helpers
def parse_query(model, arguments):
    """Validate tool or query-string arguments; RequestInvalid lists every problem."""
    return parse_object(model, arguments, "(arguments)", "The arguments")


def input_schema(model):
    return inline_json_schema(model, mode="validation")


def output_schema(model):
    return inline_json_schema(model, mode="serialization")


class LineChanged(_Answer):
    product: str
    quantity_before: float
    quantity_after: float


class QuotationUpdated(Quotation):
    """The quotation as changed, what changed, and a sentence to say."""

    message: str
    changes: list[LineChanged]
