"""Who is calling, before the first word: the answer of the ElevenLabs
conversation initiation webhook.

The caller's number is normalised as Odoo normalises its contacts' numbers
(phone_validation, the company's country for a number without a prefix) and
looked up among active contacts; the answer carries the variables Settings
share (``lib/conversation_init.py``) and, for a known caller, the agent's
language and first message in the customer's language.
"""

import hmac

from odoo.exceptions import UserError
from odoo.tools.translate import LazyTranslate

from .. import compat
from ..lib.conversation_init import (
    QUOTATIONS_LISTED,
    initiation_answer,
    parse_initiation,
    quotation_summary,
    share_setting,
    shareable,
)
from ..lib.request_schema import RequestInvalid
from ..lib.settings import read_setting
from .agent_messages import say

_lt = LazyTranslate(__name__)

GREETING = _lt("Hello %(name)s, thank you for calling again. How can I help you today?")
GREETING_NAMELESS = _lt("Hello, thank you for calling again. How can I help you today?")
OPEN_STATES = ("draft", "sent")
# what the answer reads of the caller and of a quotation, fetched with the search
CALLER_FIELDS = [
    "name",
    "email",
    "lang",
    "user_id",
    "parent_id",
    "is_company",
    "company_name",
    "commercial_partner_id",
]
SUMMARY_FIELDS = ["name", "state", "amount_total", "currency_id", "date_order"]


class InitiationRefused(Exception):
    """The request is not answered: ``status``, ``code`` and a message that
    never repeats a secret."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def check_secret(env, presented):
    """Refuse unless ``presented`` is the secret set in Settings (none set:
    everything is refused), compared in constant time."""
    secret = read_setting(env, "elevenlabs_init_secret")
    if not secret or not hmac.compare_digest(
        (presented or "").encode(), secret.encode()
    ):
        raise InitiationRefused(
            401,
            "unauthenticated",
            "Send the secret set in Odoo's Settings as the header configured "
            "for the conversation initiation webhook.",
        )


def answer_initiation(env, payload):
    """The answer for a decoded request body; InitiationRefused (422) when it
    is not an initiation request or its number is none."""
    try:
        request = parse_initiation(payload)
    except RequestInvalid as error:
        raise InitiationRefused(422, "invalid_payload", str(error)) from None
    partner = find_caller(env, request.caller_id) if request.caller_id else None
    shared = {
        variable
        for variable in shareable()
        if read_setting(env, share_setting(variable))
    }
    if not partner:
        return initiation_answer({}, shared)
    values = caller_values(partner)
    return initiation_answer(values, shared, _agent_override(values, shared))


def normalised_number(env, number):
    """``number`` in E.164 as Odoo formats its contacts' numbers, the
    company's country for one without a prefix. Without the phonenumbers
    library Odoo keeps numbers as typed, and so does this.

    A number with its ``+`` prefix (what Twilio and SIP send) is parsed
    without a country, which it does not need: the company's country is a
    computed address (a few queries on each call)."""
    partners = env["res.partner"]
    international = number.startswith("+")
    try:
        return partners._phone_format_number(
            number,
            env["res.country"] if international else env.company.country_id,
            force_format="E164",
            raise_exception=True,
        )
    except UserError as error:
        raise InitiationRefused(
            422, "invalid_caller_id", f"caller_id: {error}"
        ) from None


def find_caller(env, number):
    """The active contact whose number is ``number`` (a person before a
    company), or an empty recordset."""
    e164 = normalised_number(env, number)
    partners = env["res.partner"].sudo()
    return partners.search_fetch(
        compat.any_of(
            [("phone_sanitized", "=", e164)],
            [("phone_mobile_search", "=", e164)],
        ),
        CALLER_FIELDS,
        order="is_company, id",
        limit=1,
    )


def caller_values(partner):
    """Every variable's value for a known ``partner``."""
    commercial = partner.commercial_partner_id
    orders = partner.env["sale.order"].sudo()
    # the people of the customer once, for both lists
    people = (
        partner.env["res.partner"].sudo()._search([("id", "child_of", commercial.id)])
    )
    domain = [("partner_id", "in", people)]
    listed = {"order": "date_order desc, id desc", "limit": QUOTATIONS_LISTED}
    last = orders.search_fetch(domain, SUMMARY_FIELDS, **listed)
    pending = orders.search_fetch(
        [*domain, ("state", "in", OPEN_STATES)], SUMMARY_FIELDS, **listed
    )
    company = commercial if commercial.is_company else partner.parent_id
    return {
        "customer_known": True,
        "customer_name": partner.name or "",
        "customer_company": company.name or partner.company_name or "",
        "customer_email": partner.email or "",
        "customer_language": (partner.lang or "").split("_")[0],
        "salesperson": (partner.user_id or commercial.user_id).name or "",
        "last_quotations": _summaries(last),
        "open_quotations": _summaries(pending),
    }


def _summaries(orders):
    states = dict(orders._fields["state"]._description_selection(orders.env))
    return "; ".join(
        quotation_summary(
            order.name,
            states.get(order.state, order.state),
            order.amount_total,
            order.currency_id.name,
            order.date_order.date().isoformat(),
        )
        for order in orders
    )


def _agent_override(values, shared):
    """The agent speaks the customer's language and greets them in it; the
    name is said only when Settings share it."""
    language = values["customer_language"]
    name = values["customer_name"] if "customer_name" in shared else ""
    greeting = (
        say(GREETING, language, name=name) if name else say(GREETING_NAMELESS, language)
    )
    override = {"first_message": greeting}
    if language:
        override["language"] = language
    return override
