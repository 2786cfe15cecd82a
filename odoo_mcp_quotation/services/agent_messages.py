"""Sentences an agent can read aloud as they are, in the caller's language.

They are ordinary translatable terms (the addon's ``i18n/*.po`` files), looked
up for the language the request asked for, whether or not that language is
installed in Odoo: a Spanish-speaking caller gets Spanish even on an English
database.
"""

import re

from odoo.tools.translate import LazyTranslate

_lt = LazyTranslate(__name__)

LANG_TAG = re.compile(r"^([a-zA-Z]{2,3})(?:[_-]([a-zA-Z0-9]{2,8}))?$")

QUEUED = _lt(
    "Thank you. The quotation request is registered and will be ready in a few seconds."
)
RETRYING = _lt(
    "The first try did not work out; the quotation will be tried again shortly."
)
# what a request says in each state (a pending one after a failed try: RETRYING)
STATES = {
    "pending": _lt("The quotation is in the queue and will be prepared in a moment."),
    "processing": _lt("The quotation is being prepared right now."),
    "done": _lt(
        "Quotation %(reference)s is ready, for a total of %(total)s %(currency)s."
    ),
    "failed": _lt("The quotation could not be created: %(error)s"),
    "cancelled": _lt("This quotation request was cancelled."),
}
NOT_YET_SENT = _lt(
    "Quotation %(reference)s is ready, for a total of %(total)s %(currency)s, "
    "but it has not been e-mailed to the customer yet."
)
SENT = _lt("Quotation %(reference)s was e-mailed to the customer.")
NOT_CONFIRMED = _lt(
    "Nothing was sent: ask the person to confirm that quotation %(reference)s "
    "may be e-mailed to the customer, then send it again with confirm: true."
)
NOT_SENDABLE = _lt("Nothing was sent: quotation %(reference)s is %(state)s.")
NO_CUSTOMER_EMAIL = _lt("Nothing was sent: the customer has no e-mail address.")
NO_SUCH_QUOTATION = _lt("You have no quotation %(reference)s.")
INVALID_REQUEST = _lt("Some details are missing or wrong: %(problems)s")
NOT_FOUND = _lt("There is no quotation request with that tracking id.")
UNAUTHENTICATED = _lt("The request was not authenticated: %(reason)s")
FORBIDDEN = _lt("This API key is not allowed to do that: %(reason)s")
RATE_LIMITED = _lt("Too many requests; try again in %(seconds)s seconds.")
BAD_JSON = _lt("The body is not valid JSON: %(reason)s")
BAD_CONTENT_TYPE = _lt("Send the body as JSON with 'Content-Type: application/json'.")
TOO_LARGE = _lt("The body is larger than %(limit)s KiB.")
BAD_METHOD = _lt("This address only answers %(methods)s requests.")
INTERNAL_ERROR = _lt(
    "Something went wrong on the Odoo side; the request was not recorded. "
    "Try again in a minute."
)


def po_lang(code):
    """``es``, ``es-MX`` or ``es_MX`` as a .po language code, or None."""
    match = LANG_TAG.match((code or "").strip())
    if not match:
        return None
    language, region = match.groups()
    return f"{language.lower()}_{region.upper()}" if region else language.lower()


def say(message, lang=None, **params):
    """Translate ``message`` into ``lang`` (English when unknown) with ``params``."""
    text = message._translate(po_lang(lang) or "en_US")
    return text % params if params else text
