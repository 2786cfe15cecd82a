"""The OpenAPI 3.1 document, generated from the same models the API validates with."""

from .prefer import MAX_WAIT_SECONDS
from .query_schema import (
    ErrorResponse,
    Health,
    QuotationQueued,
    QuotationSent,
    QuotationStatus,
    QuotationUpdated,
)
from .request_schema import (
    MAX_IDEMPOTENCY_KEY,
    TRACKING_ID,
    QuotationUpdate,
    SendConfirmation,
    inline_json_schema,
    request_json_schema,
)

ERRORS = {
    "400": "Malformed JSON.",
    "401": "Missing or invalid API key (see WWW-Authenticate).",
    "403": "The API key lacks the scope this needs (see WWW-Authenticate).",
    "404": "No such request for this API key (also another user's).",
    "405": "Wrong method.",
    "409": "The quotation may not be changed: confirmed or cancelled, or edited "
    "by someone else since it was read.",
    "413": "Body over 64 KiB.",
    "415": "Body not sent as application/json.",
    "422": "The body breaks the schema: every problem in error.details.",
    "429": "Rate limit reached: wait Retry-After seconds.",
}


def _json(schema_ref, description):
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": schema_ref}}},
    }


def _errors(*codes):
    return {
        code: _json("#/components/schemas/ErrorResponse", ERRORS[code])
        for code in codes
    }


def _schema(model):
    return model.model_json_schema(ref_template="#/components/schemas/{model}")


REFERENCE_PARAMETER = {
    "name": "reference",
    "in": "path",
    "required": True,
    "description": "The quotation's reference (e.g. S00042) or the tracking id "
    "of the request that made it.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 64},
}


def _idempotency_parameter(retried):
    """The ``Idempotency-Key`` header; ``retried``: what a retry gets."""
    return {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY},
        "description": f"A retried call with the same key {retried}.",
    }


def _update_path():
    """Changing one's own quotation (``QuotationUpdate``)."""
    return {
        "post": {
            "operationId": "updateQuotation",
            "summary": "Change quantities, add or remove lines of a quotation",
            "parameters": [
                REFERENCE_PARAMETER,
                _idempotency_parameter(
                    "returns the first answer and changes nothing again"
                ),
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/QuotationUpdate"}
                    }
                },
            },
            "responses": {
                "200": _json("#/components/schemas/QuotationUpdated", "Changed."),
                **_errors("400", "401", "403", "404", "405", "409", "413", "415"),
                **_errors("422", "429"),
            },
        }
    }


def _send_path():
    return {
        "post": {
            "operationId": "sendQuotation",
            "summary": "E-mail one's own quotation to its customer",
            "description": "One e-mail per call, with Odoo's template and "
            "portal link, as the salesperson; only with `confirm: true`. "
            "Refused (nothing sent) for another user's quotation or one "
            "confirmed or cancelled. `email: to_send`: not sent yet, "
            "retried on its own.",
            "parameters": [REFERENCE_PARAMETER],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/SendConfirmation"}
                    }
                },
            },
            "responses": {
                "200": _json("#/components/schemas/QuotationSent", "Sent or queued."),
                **_errors("400", "401", "403", "404", "405", "415", "422", "429"),
            },
        }
    }


def openapi_document(server_url, version):
    schemas = {
        "QuotationRequest": request_json_schema(),
        "QuotationUpdate": inline_json_schema(QuotationUpdate),
    }
    for model in (
        QuotationQueued,
        QuotationStatus,
        ErrorResponse,
        Health,
        SendConfirmation,
        QuotationSent,
        QuotationUpdated,
    ):
        schema = _schema(model)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Odoo AI Quotations API",
            "version": version,
            "description": (
                "Voice agents and other HTTP clients ask Odoo for a draft sales "
                "quotation: the request is queued at once and Odoo builds the "
                "customer, the opportunity and the quotation in the background."
            ),
        },
        "servers": [{"url": server_url}],
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "odooApiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An Odoo user API key for AI agents "
                    "(Preferences > Account Security > New Agent Key).",
                }
            },
        },
        "security": [{"odooApiKey": []}],
        "paths": {
            "/api/quotation/async": {
                "post": {
                    "operationId": "createQuotation",
                    "summary": "Queue a quotation request",
                    "parameters": [
                        _idempotency_parameter(
                            "returns the same tracking id and creates nothing new"
                        ),
                        {
                            "name": "Prefer",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string", "examples": ["wait=3"]},
                            "description": "RFC 7240 `wait=N`: when the queue is "
                            "idle, Odoo builds the quotation at once and answers "
                            "200 with it if done within N seconds (at most "
                            f"{MAX_WAIT_SECONDS}); else the usual 202. The task is "
                            "queued first either way. Other preferences, and a "
                            "`wait` that is not a whole number, are ignored.",
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "$ref": "#/components/schemas/QuotationRequest"
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            **_json(
                                "#/components/schemas/QuotationQueued",
                                "Finished within the `Prefer: wait` time: done "
                                "(reference, total, portal link) or failed.",
                            ),
                            "headers": {
                                "Preference-Applied": {
                                    "description": "The `wait=N` honoured.",
                                    "schema": {"type": "string"},
                                }
                            },
                        },
                        "202": _json("#/components/schemas/QuotationQueued", "Queued."),
                        **_errors("400", "401", "405", "413", "415", "422", "429"),
                    },
                }
            },
            "/api/quotation/status/{tracking_id}": {
                "get": {
                    "operationId": "getQuotationStatus",
                    "summary": "Where a quotation request stands",
                    "parameters": [
                        {
                            "name": "tracking_id",
                            "in": "path",
                            "required": True,
                            "schema": {
                                "type": "string",
                                "pattern": f"^{TRACKING_ID.pattern}$",
                            },
                        }
                    ],
                    "responses": {
                        "200": _json("#/components/schemas/QuotationStatus", "Status."),
                        **_errors("401", "404", "405", "429"),
                    },
                }
            },
            "/api/quotation/{reference}/send": _send_path(),
            "/api/quotation/{reference}/update": _update_path(),
            "/health": {
                "get": {
                    "operationId": "health",
                    "summary": "Up or down, for load balancers",
                    "description": "Without a key: only `ok`. With the API key "
                    "of an AI Quotations administrator: the database, the "
                    "version and the queue figures too.",
                    "security": [{}, {"odooApiKey": []}],
                    "responses": {
                        "200": _json("#/components/schemas/Health", "Healthy."),
                        "503": _json(
                            "#/components/schemas/Health", "Database unreachable."
                        ),
                    },
                }
            },
        },
    }
