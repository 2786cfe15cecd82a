"""The ElevenLabs conversation initiation webhook: what it receives, what it
answers, and the agent configuration that goes with it.

Before an inbound Twilio or SIP call starts, ElevenLabs posts the caller's
number and waits for the agent's dynamic variables. :class:`CallerVariables`
is the one definition of those variables: the answer is validated with it,
every variable has a Setting deciding whether it is shared, and
``docs/elevenlabs.md`` shows the configuration generated from it
(:func:`docs_section`), as the tool JSON is generated from the request schema.
"""

import json
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .docs_section import replace_section
from .request_schema import parse_object

PATH = "/api/elevenlabs/conversation-init"
SECRET_HEADER = "X-Odoo-Secret"
SECRET_PLACEHOLDER = "<id of the workspace secret holding the Odoo initiation secret>"
ANSWER_TYPE = "conversation_initiation_client_data"
MAX_BODY = 16 * 1024
# what carriers put in place of a withheld number: an unknown caller, not an error
WITHHELD = {"anonymous", "private", "restricted", "unavailable", "unknown"}
NUMBER_PATTERN = re.compile(r"^\+?[0-9 ().\-/]{3,32}$")
MAX_DIGITS = 15  # E.164
# quotations listed in last_quotations and open_quotations
QUOTATIONS_LISTED = 3


class InitiationRequest(BaseModel):
    """What ElevenLabs posts for a Twilio or SIP call (other fields are ignored:
    its payload may grow)."""

    model_config = ConfigDict(extra="ignore")

    caller_id: str | None = Field(None, max_length=128)
    agent_id: str | None = Field(None, max_length=128)
    called_number: str | None = Field(None, max_length=128)
    call_sid: str | None = Field(None, max_length=128)

    @field_validator("caller_id")
    @classmethod
    def _a_phone_number(cls, value):
        """The caller's number without a ``tel:``/``sip:`` wrapping; None when
        withheld. Anything else that is not a phone number is refused."""
        number = (value or "").strip()
        if number.lower().startswith(("tel:", "sip:", "sips:")):
            number = number.partition(":")[2].partition("@")[0].partition(";")[0]
        if not number or number.lower() in WITHHELD:
            return None
        digits = sum(char.isdigit() for char in number)
        if not NUMBER_PATTERN.match(number) or not 3 <= digits <= MAX_DIGITS:
            raise ValueError(
                "Not a phone number: send digits, optionally with a leading + "
                f"and the country code, {MAX_DIGITS} digits at most."
            )
        return number


def parse_initiation(payload):
    """The validated request; RequestInvalid lists every problem."""
    return parse_object(InitiationRequest, payload)


def _variable(default, description, *, shared_by_default=True, personal=False):
    return Field(
        default,
        description=description,
        json_schema_extra={"shared_by_default": shared_by_default and not personal},
    )


class CallerVariables(BaseModel):
    """The agent's dynamic variables. Every one is always answered (empty for
    an unknown caller, or when Settings do not share it), so a prompt that uses
    them never meets a missing variable."""

    model_config = ConfigDict(extra="forbid")

    customer_known: bool = Field(
        False, description="true when the caller's number belongs to a customer"
    )
    customer_name: str = _variable(
        "", "The customer's name, as in Odoo.", personal=True
    )
    customer_company: str = _variable("", "The company the customer belongs to.")
    customer_email: str = _variable(
        "", "The customer's e-mail address, as the salesperson sees it.", personal=True
    )
    customer_language: str = _variable(
        "", "The customer's language, an ISO code such as en or es."
    )
    salesperson: str = _variable("", "The customer's salesperson.")
    last_quotations: str = _variable(
        "",
        f"The customer's last {QUOTATIONS_LISTED} quotations and orders, newest "
        "first: reference, state, total, date; separated by semicolons.",
    )
    open_quotations: str = _variable(
        "",
        f"Up to {QUOTATIONS_LISTED} quotations still awaiting the customer's "
        "answer, in the same form.",
    )


def shareable():
    """``{variable: shared by default}`` for every variable a Setting governs
    (``customer_known`` is always answered)."""
    return {
        name: field.json_schema_extra["shared_by_default"]
        for name, field in CallerVariables.model_fields.items()
        if field.json_schema_extra
    }


def share_setting(variable):
    """The name of the Setting that shares ``variable``."""
    return f"conversation_init_share_{variable}"


def quotation_summary(reference, state, total, currency, date):
    """One quotation as an LLM reads it:
    ``S00042, Quotation Sent, 1196.00 USD, 2026-11-25``."""
    return f"{reference}, {state}, {total:.2f} {currency}, {date}"


def initiation_answer(values, shared, agent_override=None):
    """The webhook's answer: ``values`` of the variables in ``shared`` (the
    others answered empty) and, when given, the agent's overrides."""
    kept = {
        name: value
        for name, value in values.items()
        if name == "customer_known" or name in shared
    }
    answer = {
        "type": ANSWER_TYPE,
        "dynamic_variables": CallerVariables(**kept).model_dump(),
    }
    if agent_override:
        answer["conversation_config_override"] = {"agent": agent_override}
    return answer


# ------------------------------------------------------------ agent configuration
PROMPT = "\n".join(
    [
        "You answer phone calls for our sales team and prepare quotations in Odoo.",
        "Caller known to Odoo: {{customer_known}}.",
        "Name: {{customer_name}}. Company: {{customer_company}}. "
        "E-mail: {{customer_email}}.",
        "Language: {{customer_language}}. Salesperson: {{salesperson}}.",
        "Last quotations: {{last_quotations}}.",
        "Quotations awaiting an answer: {{open_quotations}}.",
        "When the caller is known, do not ask again for what is written above: "
        "confirm it if needed, and when they ask about a quotation, use the "
        "references above. When a value is empty, ask for what you need.",
        "Call create_quotation with the name and e-mail above when the caller "
        "is known, and with lang set to the language of the conversation.",
    ]
)


def agent_configuration(base_url):
    """What ElevenLabs needs: the webhook with its secret header (workspace
    settings), the agent's variables with their placeholders, the overrides
    the answer uses, and a prompt that uses every variable."""
    placeholders = CallerVariables().model_dump()
    return {
        "workspace_settings": {
            "conversation_initiation_client_data_webhook": {
                "url": f"{base_url}{PATH}",
                "request_headers": {SECRET_HEADER: {"secret_id": SECRET_PLACEHOLDER}},
            }
        },
        "agent": {
            "conversation_config": {
                "agent": {
                    "prompt": {"prompt": PROMPT},
                    "dynamic_variables": {
                        "dynamic_variable_placeholders": placeholders
                    },
                }
            },
            "platform_settings": {
                "overrides": {
                    "enable_conversation_initiation_client_data_from_webhook": True,
                    "conversation_config_override": {
                        "agent": {"first_message": True, "language": True}
                    },
                }
            },
        },
    }


BEGIN = "<!-- conversation-init: generated from lib/conversation_init.py -->"
END = "<!-- conversation-init: end -->"


def docs_section(base_url="https://odoo.example.com"):
    """The generated part of docs/elevenlabs.md: the variables and the
    configuration, from :class:`CallerVariables`."""
    rows = [
        "| variable | type | what | shared by default |",
        "| --- | --- | --- | --- |",
    ]
    defaults = shareable()
    for name, field in CallerVariables.model_fields.items():
        kind = "boolean" if field.annotation is bool else "string"
        shared = "always" if name not in defaults else "yes" if defaults[name] else "no"
        rows.append(f"| `{name}` | {kind} | {field.description} | {shared} |")
    config = json.dumps(agent_configuration(base_url), indent=2, ensure_ascii=False)
    prompt = ["The prompt:", "", "```text", PROMPT, "```"]
    configuration = ["The configuration:", "", "```json", config, "```"]
    return "\n".join([BEGIN, *rows, "", *prompt, "", *configuration, END])


def replace_docs_section(document, base_url="https://odoo.example.com"):
    """``document`` with its generated section brought up to date."""
    return replace_section(document, BEGIN, END, docs_section(base_url))
