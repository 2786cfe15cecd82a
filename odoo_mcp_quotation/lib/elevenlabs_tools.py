"""ElevenLabs server-tool definitions, derived from the request schema.

ElevenLabs describes a webhook tool's body with its own subset of JSON Schema:
each literal property carries a ``description`` (the LLM fills it in), or a
``dynamic_variable`` (ElevenLabs fills it in). Generating the definitions from
the one request schema keeps the agent's tools in step with what the API
accepts; ``docs/elevenlabs.md`` shows them (its generated part) and how to
paste them.
"""

import json

from .docs_section import replace_section
from .request_schema import (
    QuotationUpdate,
    SendConfirmation,
    inline_json_schema,
    request_json_schema,
)

# the quotation in the answer to the first call when Odoo builds it in time
# (RFC 7240; an idle server takes about 0.1 s), else the usual 202
WAIT_PREFERENCE = "wait=3"

# filled by ElevenLabs itself, never by the LLM
DYNAMIC_VARIABLES = {"conversation_id": "system__conversation_id"}
SECRET_PLACEHOLDER = "<id of the workspace secret holding 'Bearer <Odoo API key>'>"
# what a voice agent leaves out of a change: it reads no version (the change is
# refused once anyone else edited the quotation) and has no key per change
# (the conversation's id would answer a second change with the first)
UPDATE_UNASKED = ("expected_version", "idempotency_key")
BEGIN = "<!-- elevenlabs-tools: generated from lib/elevenlabs_tools.py -->"
END = "<!-- elevenlabs-tools: end -->"


def _property(name, schema):
    """One property; optional ones (``anyOf`` with null) keep their description."""
    variant = next(s for s in schema.get("anyOf", [schema]) if s.get("type") != "null")
    schema = {**variant, "description": schema.get("description", "")}
    if name in DYNAMIC_VARIABLES:
        return {"type": schema["type"], "dynamic_variable": DYNAMIC_VARIABLES[name]}
    if schema["type"] == "array":
        return {
            "type": "array",
            "description": schema["description"],
            "items": _object(schema["items"]),
        }
    if schema["type"] == "object":
        return _object(schema)
    return {"type": schema["type"], "description": schema["description"]}


def _object(schema):
    return {
        "type": "object",
        "description": schema.get("description", ""),
        "properties": {
            name: _property(name, prop) for name, prop in schema["properties"].items()
        },
        "required": schema.get("required", []),
    }


def _auth_headers():
    return {"Authorization": {"secret_id": SECRET_PLACEHOLDER}}


def _tracking_id_path():
    """The path parameter of the quotation asked for in this call: the
    ``tracking_id`` create_quotation's answer left in a dynamic variable, so
    the LLM never spells a 32-character id (the routes take it as the
    reference)."""
    return {"tracking_id": {"type": "string", "dynamic_variable": "tracking_id"}}


def _update_body():
    body = _object(inline_json_schema(QuotationUpdate))
    for name in UPDATE_UNASKED:
        del body["properties"][name]
    return body


def _send_body():
    body = _object(inline_json_schema(SendConfirmation))
    body["required"] = ["confirm"]  # the LLM says it, nothing defaults it
    return body


def elevenlabs_tools(base_url):
    """The webhook tools, ready for ElevenLabs' ``POST /v1/convai/tools``:
    create and follow a quotation, then change it and e-mail it (these two
    need the scopes ``quotations:update`` and ``quotations:send``)."""
    body = _object(request_json_schema())
    for line in (body["properties"]["lines"]["items"],):
        line["required"] = ["product", "quantity"]  # ask the caller, do not assume 1
    return [
        {
            "tool_config": {
                "type": "webhook",
                "name": "create_quotation",
                "description": (
                    "Ask Odoo for a sales quotation once you know the customer's "
                    "name, an e-mail or phone number, and the products with "
                    "quantities. Usually answers with the finished quotation "
                    "(status done): read its message to the caller, it gives the "
                    "reference and total. Only if it answers status pending, read "
                    "the message, then use get_quotation_status."
                ),
                "response_timeout_secs": 20,
                "api_schema": {
                    "url": f"{base_url}/api/quotation/async",
                    "method": "POST",
                    "request_headers": {
                        **_auth_headers(),
                        "Prefer": WAIT_PREFERENCE,
                    },
                    "request_body_schema": body,
                },
                "assignments": [
                    {
                        "source": "response",
                        "dynamic_variable": "tracking_id",
                        "value_path": "tracking_id",
                    }
                ],
            }
        },
        {
            "tool_config": {
                "type": "webhook",
                "name": "get_quotation_status",
                "description": (
                    "Check whether the quotation asked for with create_quotation "
                    "is ready; when it is, tell the caller its reference and total. "
                    "If it is still pending, wait a few seconds and ask again."
                ),
                "response_timeout_secs": 20,
                "api_schema": {
                    "url": f"{base_url}/api/quotation/status/{{tracking_id}}",
                    "method": "GET",
                    "request_headers": _auth_headers(),
                    "path_params_schema": _tracking_id_path(),
                },
            }
        },
        {
            "tool_config": {
                "type": "webhook",
                "name": "update_quotation",
                "description": (
                    "Change the quotation of this call when the caller corrects "
                    "it, once create_quotation answered: give only the products "
                    "that change, each with its new quantity (a product not on "
                    "it is added, quantity 0 removes it). Read the answer's "
                    "message to the caller: it gives the new total. If it names "
                    "several matching products, ask the caller which one and "
                    "call again with its reference. If it says someone else "
                    "edited the quotation, tell the caller a salesperson will "
                    "follow up; do not retry."
                ),
                "response_timeout_secs": 20,
                "api_schema": {
                    "url": f"{base_url}/api/quotation/{{tracking_id}}/update",
                    "method": "POST",
                    "request_headers": _auth_headers(),
                    "path_params_schema": _tracking_id_path(),
                    "request_body_schema": _update_body(),
                },
            }
        },
        {
            "tool_config": {
                "type": "webhook",
                "name": "send_quotation",
                "description": (
                    "E-mail the quotation of this call to the caller. First ask "
                    "whether to send it now to the e-mail address they gave; "
                    "only after a clear yes call it with confirm true, never on "
                    "your own. Each call sends one e-mail: call it once. Read "
                    "the answer's message to the caller."
                ),
                "response_timeout_secs": 20,
                "api_schema": {
                    "url": f"{base_url}/api/quotation/{{tracking_id}}/send",
                    "method": "POST",
                    "request_headers": _auth_headers(),
                    "path_params_schema": _tracking_id_path(),
                    "request_body_schema": _send_body(),
                },
            }
        },
    ]


def replace_docs_section(document, base_url="https://odoo.example.com"):
    """``document`` with the tools' definitions (its generated part) brought
    up to date."""
    tools = json.dumps(elevenlabs_tools(base_url), indent=2, ensure_ascii=False)
    return replace_section(
        document, BEGIN, END, "\n".join([BEGIN, "```json", tools, "```", END])
    )
