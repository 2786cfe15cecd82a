"""The one definition of a quotation request.

Validation, the REST OpenAPI document and the MCP tools' input schemas are all
derived from the models below; nothing else re-validates by hand. This module
imports no Odoo so that every layer, the MCP protocol code included, can use it.
"""

import re
import unicodedata
from typing import Annotated

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from .json_body import FORBIDDEN_IN_LINE, FORBIDDEN_IN_TEXT

MAX_LINES = 100
MAX_QUANTITY = 1_000_000
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_PATTERN = re.compile(r"^\+?[0-9 ().\-/]{5,32}$")
# what Odoo generates (secrets.token_hex(16)) and the only form it accepts back
TRACKING_ID = re.compile(r"[0-9a-f]{32}")  # use fullmatch
MAX_IDEMPOTENCY_KEY = 128

# pydantic's own wording, rephrased for people and for models that read it aloud
_MESSAGES = {
    "missing": "This field is required.",
    "extra_forbidden": "Unknown field: remove it or check its spelling.",
    "string_too_short": "Must not be empty.",
}


def _field(description, *aliases, **kwargs):
    """A field that also accepts the legacy names of the FastAPI server it replaces."""
    if aliases:
        kwargs["validation_alias"] = AliasChoices(*aliases)
    return Field(description=description, **kwargs)


def _refuse(pattern, value):
    """Normalise to NFC (composed accents); refuse what ``pattern`` matches."""
    value = unicodedata.normalize("NFC", value)
    found = pattern.search(value)
    if found:
        raise ValueError(
            f"Contains the control character U+{ord(found.group()):04X}: remove it."
        )
    return value


def clean_line(value):
    """A one-line string (a name, a code) in NFC; ValueError on a control character."""
    return _refuse(FORBIDDEN_IN_LINE, value)


def clean_text(value):
    """Free text (notes): new lines and tabs allowed, other controls refused."""
    return _refuse(FORBIDDEN_IN_TEXT, value)


# Every string from outside is one of these two: no control characters, NFC.
Line = Annotated[str, AfterValidator(clean_line)]
MultiLine = Annotated[str, AfterValidator(clean_text)]
Text = Annotated[str, Field(min_length=1), AfterValidator(clean_line)]
IdempotencyKey = Annotated[
    str,
    Field(min_length=1, max_length=MAX_IDEMPOTENCY_KEY),
    AfterValidator(clean_line),
]
_IDEMPOTENCY_KEY = TypeAdapter(IdempotencyKey)
# a quotation's reference (S00042) or its request's tracking id
QuotationReference = Annotated[
    str, Field(min_length=1, max_length=64), AfterValidator(clean_line)
]
_QUOTATION_REFERENCE = TypeAdapter(QuotationReference)
# a product as an agent names it, in a requested line and in a line change;
# not built on Text: a max_length after Text's validator would be checked after
# it, with another error
Product = Annotated[
    str,
    Field(
        validation_alias=AliasChoices(
            "product", "product_code", "default_code", "product_name", "name"
        ),
        min_length=1,
        max_length=128,
        examples=["FURN_8888"],
    ),
    AfterValidator(clean_line),
]
# a requested line's quantity, over the API and over the ORM alike
Quantity = Annotated[float, Field(gt=0, le=MAX_QUANTITY)]
QUANTITY = TypeAdapter(Quantity)


class RequestedLine(BaseModel):
    """One requested product and its quantity."""

    # the title the published schemas have always given it
    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, title="QuotationLine"
    )

    product: Product = _field("Internal reference, barcode or name of the product.")
    quantity: Quantity = _field(
        "Quantity in the product's sales unit.",
        "quantity",
        "qty",
        "product_uom_qty",
        default=1.0,
    )


class QuotationRequest(BaseModel):
    """What an agent sends to ask for a quotation."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        title="QuotationRequest",
    )

    customer_name: Text = _field(
        "Full name of the customer (a person).",
        "customer_name",
        "partner_name",
        "name",
        max_length=128,
        examples=["Ana García"],
    )
    email: Line | None = _field(
        "Customer's e-mail; used first to find an existing customer.",
        max_length=254,
        default=None,
        examples=["ana@example.com"],
    )
    phone: Line | None = _field(
        "Customer's phone number; used to find the customer when no e-mail matches.",
        "phone",
        "mobile",
        max_length=32,
        default=None,
        examples=["+34 600 000 000"],
    )
    company_name: Line | None = _field(
        "Company the customer buys for, if any.",
        "company_name",
        "company",
        max_length=128,
        default=None,
    )
    lang: Line | None = _field(
        "Customer's language as an ISO code (en, es, es_ES): replies and the "
        "quotation use it when Odoo has it installed.",
        "lang",
        "language",
        max_length=16,
        pattern=r"^[a-zA-Z]{2,3}([_-][a-zA-Z0-9]{2,8})?$",
        default=None,
    )
    notes: MultiLine | None = _field(
        "What the customer asked for, in their words; kept on the opportunity.",
        "notes",
        "note",
        "description",
        max_length=4000,
        default=None,
    )
    lines: list[RequestedLine] = _field(
        "Products and quantities to quote (1 to 100 lines).",
        "lines",
        "products",
        "order_lines",
        min_length=1,
        max_length=MAX_LINES,
    )
    conversation_id: IdempotencyKey | None = _field(
        "Conversation or call id of the agent; a retried call with the same id "
        "returns the same tracking id instead of creating a second quotation.",
        default=None,
    )

    @field_validator("email")
    @classmethod
    def _check_email(cls, value):
        if value and not EMAIL_PATTERN.match(value):
            raise ValueError("Not a valid e-mail address.")
        return value.lower() if value else None

    @field_validator("phone")
    @classmethod
    def _check_phone(cls, value):
        if value and not PHONE_PATTERN.match(value):
            raise ValueError("Not a valid phone number: use digits, spaces and +.")
        return value or None

    @model_validator(mode="after")
    def _check_contact(self):
        if not self.email and not self.phone:
            raise ValueError(
                "Give the customer's e-mail or phone so they can be found or created."
            )
        return self


class SendConfirmation(BaseModel):
    """The body of a send: the explicit confirmation, nothing else."""

    model_config = ConfigDict(extra="forbid", title="SendConfirmation")

    confirm: StrictBool = Field(  # a confirmation is true, not "yes" nor 1
        default=False,
        description="true once the person confirmed that the quotation may be "
        "e-mailed to the customer now; without it nothing is sent.",
    )


class SendQuotationRequest(SendConfirmation):
    """Which of one's own quotations to e-mail to its customer, confirmed."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, title="SendQuotationRequest"
    )

    quotation: Text = Field(
        max_length=64,
        description="The quotation's reference (e.g. S00042) or the tracking_id "
        "that create_quotation returned.",
        examples=["S00042"],
    )


class RequestInvalid(Exception):
    """A request that breaks the schema; ``problems`` lists every one of them."""

    def __init__(self, problems):
        super().__init__("; ".join(f"{p['field']}: {p['message']}" for p in problems))
        self.problems = problems


def _field_path(location):
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else part
    return path


def problems_of(error: ValidationError):
    """Turn pydantic's errors into ``[{field, message}]``, one per problem."""
    problems = []
    for item in error.errors(include_url=False):
        message = _MESSAGES.get(item["type"], item["msg"])
        problems.append(
            {
                "field": _field_path(item["loc"]) or "(request)",
                "message": message.removeprefix("Value error, "),
            }
        )
    return problems


def parse_object(model, payload, where="(request)", what="The body"):
    """Validate a decoded JSON object as ``model``; RequestInvalid lists every
    problem (``what`` names the whole, ``where`` is its field, if not an object)."""
    if not isinstance(payload, dict):
        raise RequestInvalid(
            [{"field": where, "message": f"{what} must be a JSON object."}]
        )
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        raise RequestInvalid(problems_of(error)) from None


def parse_request(payload) -> QuotationRequest:
    """Validate a decoded JSON body; raise RequestInvalid listing every problem."""
    return parse_object(QuotationRequest, payload)


def parse_idempotency_key(value):
    """The ``Idempotency-Key`` header checked like ``conversation_id``, or None."""
    if value is None:
        return None
    try:
        return _IDEMPOTENCY_KEY.validate_python(value.strip())
    except ValidationError as error:
        raise RequestInvalid(
            [
                {"field": "Idempotency-Key", "message": problem["message"]}
                for problem in problems_of(error)
            ]
        ) from None


def parse_quotation_reference(value):
    """A quotation's reference or tracking id as sent (a URL's path, a tool's
    argument), checked like the schema's; RequestInvalid otherwise."""
    try:
        return _QUOTATION_REFERENCE.validate_python((value or "").strip())
    except ValidationError as error:
        raise RequestInvalid(
            [
                {"field": "quotation", "message": problem["message"]}
                for problem in problems_of(error)
            ]
        ) from None


def _inline_refs(schema, definitions=None):
    """Replace ``$ref`` with the definition: some MCP clients do not follow refs."""
    if definitions is None:
        definitions = schema.pop("$defs", {})
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _inline_refs(
                dict(definitions[schema["$ref"].split("/")[-1]]), definitions
            )
        return {key: _inline_refs(value, definitions) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_inline_refs(value, definitions) for value in schema]
    return schema


def inline_json_schema(model, mode="validation"):
    """JSON Schema (2020-12) of any pydantic model, self-contained (no ``$ref``)."""
    return _inline_refs(model.model_json_schema(mode=mode))


def request_json_schema():
    """JSON Schema (2020-12) of a request, self-contained, for OpenAPI and MCP."""
    return inline_json_schema(QuotationRequest)


# ---------------------------------------------------------------- changes
# a line change's quantity: 0 removes the product's line
NewQuantity = Annotated[float, Field(ge=0, le=MAX_QUANTITY)]


class LineChange(BaseModel):
    """One product of a quotation to change, add or remove."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    product: Product = _field(
        "Internal reference, barcode or name of the product, as in a request."
    )
    quantity: NewQuantity = _field(
        "The product's new quantity on the quotation: its line is changed, or "
        "added when the quotation has none; 0 removes its line.",
        "quantity",
        "qty",
        "product_uom_qty",
    )


class QuotationUpdate(BaseModel):
    """What an agent sends to change one of its own draft quotations."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, title="QuotationUpdate"
    )

    lines: list[LineChange] = _field(
        "The products to change, add (new quantity) or remove (quantity 0).",
        "lines",
        "changes",
        "products",
        min_length=1,
        max_length=MAX_LINES,
    )
    expected_version: Line | None = _field(
        "The quotation's version as last read (get_quotation or a previous "
        "update): the change is refused if someone edited it since. Without "
        "it, the change is refused once anyone but you edited the quotation.",
        max_length=64,
        default=None,
    )
    idempotency_key: IdempotencyKey | None = _field(
        "A key of this change: a retried call with the same key returns the "
        "first answer and changes nothing again.",
        default=None,
    )


class QuotationUpdateCall(QuotationUpdate):
    """The MCP tool's arguments: the change, and which quotation it is for."""

    model_config = ConfigDict(title="QuotationUpdateCall")

    quotation: Text = _field(
        "The quotation's reference (e.g. S00042) or the tracking_id of the "
        "request that made it.",
        max_length=64,
        examples=["S00042"],
    )


def parse_update(payload) -> QuotationUpdate:
    """Validate a change's JSON body; RequestInvalid lists every problem."""
    return parse_object(QuotationUpdate, payload)
