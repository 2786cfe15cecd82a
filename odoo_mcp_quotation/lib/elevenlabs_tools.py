"""ElevenLabs server-tool definitions, derived from the request schema.

ElevenLabs describes a webhook tool's body with its own subset of JSON Schema:
each literal property carries a ``description`` (the LLM fills it in), or a
``dynamic_variable`` (ElevenLabs fills it in). Generating the definitions from
the one request schema keeps the agent's tools in step with what the API
accepts; ``docs/elevenlabs.md`` shows them and how to paste them.
"""

from .request_schema import request_json_schema

# the quotation in the answer to the first call when Odoo builds it in time
# (RFC 7240; an idle server takes about 0.1 s), else the usual 202
WAIT_PREFERENCE = "wait=3"

# filled by ElevenLabs itself, never by the LLM
DYNAMIC_VARIABLES = {"conversation_id": "system__conversation_id"}
SECRET_PLACEHOLDER = "<id of the workspace secret holding 'Bearer <Odoo API key>'>"


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


def elevenlabs_tools(base_url):
    """The two webhook tools, ready for ElevenLabs' ``POST /v1/convai/tools``."""
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
                    "path_params_schema": {
                        "tracking_id": {
                            "type": "string",
                            "dynamic_variable": "tracking_id",
                        }
                    },
                },
            }
        },
    ]
