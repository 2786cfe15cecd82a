"""REST API for voice agents (ElevenLabs server tools) and plain HTTP clients.

Thin by design: parse, authenticate, count, one service call, one JSON reply.
Every answer, errors included, carries a ``message`` an agent can read aloud.
"""

import json
import logging
from contextlib import nullcontext

from odoo import http
from odoo.exceptions import AccessError, MissingError, UserError
from odoo.http import request
from odoo.modules.module import get_manifest

from .. import compat
from ..lib import scopes
from ..lib.elevenlabs_tools import elevenlabs_tools
from ..lib.json_body import JsonBodyError, parse_json
from ..lib.openapi import openapi_document
from ..lib.prefer import preferred_wait
from ..lib.request_schema import RequestInvalid
from ..models.quotation_task import MANAGER_GROUP
from ..services import agent_messages as messages
from ..services.health import database_health
from ..services.quotation_service import QuotationService
from ..services.quotation_update import QuotationConflict, QuotationUpdateService
from .auth import (
    AGENT_ROUTE,
    WWW_AUTHENTICATE,
    RateLimited,
    Unauthenticated,
    authenticate,
    bearer_token,
)
from .build_after_answer import build_after_answer, deferring_wake_up
from .request_body import read_body

_logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
DOCS_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"/>
<title>Odoo AI Quotations API</title>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
</head><body>
<redoc spec-url="/api/quotation/openapi.json"></redoc>
<script src="/odoo_mcp_quotation/static/lib/redoc/redoc.standalone.js"></script>
</body></html>
"""


class ApiError(Exception):
    """An HTTP error with the body every client of this API gets."""

    def __init__(self, status, code, message, details=(), headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = list(details)
        self.headers = headers or {}


# the documents that describe the API: anyone may read them
PUBLIC_GET = {
    "type": "http",
    "auth": "public",
    "csrf": False,
    "save_session": False,
    "methods": ["GET"],
}


def _host_url():
    """This server as the client reached it (the proxy's, in proxy mode)."""
    return request.httprequest.host_url.rstrip("/")


def addon_version():
    return get_manifest("odoo_mcp_quotation")["version"]


def json_response(body, status=200, headers=None):
    return request.make_json_response(body, headers=headers, status=status)


class QuotationRestController(http.Controller):
    @http.route("/api/quotation/async", **AGENT_ROUTE)
    def create_quotation(self):
        response = self._serve(
            ("POST",), self._create_quotation, with_body=True, scope=scopes.CREATE
        )
        if response.status_code != 202:
            return response
        return self._finished_in_time(response) or build_after_answer(response)

    @http.route("/api/quotation/status/<string:tracking_id>", **AGENT_ROUTE)
    def quotation_status(self, tracking_id):
        return self._serve(
            ("GET",),
            lambda: (200, self._service().status(tracking_id)),
            scope=scopes.CREATE,
            savepoint=False,  # a read: nothing to take back
        )

    @http.route("/api/quotation/<string:reference>/send", **AGENT_ROUTE)
    def send_quotation(self, reference):
        """E-mail one's own quotation (a reference or a tracking id), confirmed."""
        return self._serve(
            ("POST",),
            lambda payload: (200, self._send_quotation(reference, payload)),
            with_body=True,
            scope=scopes.SEND,
        )

    @http.route("/api/quotation/<string:reference>/update", **AGENT_ROUTE)
    def update_quotation(self, reference):
        return self._serve(
            ("POST",),
            lambda payload: self._update_quotation(reference, payload),
            with_body=True,
            scope=scopes.UPDATE,
        )

    @http.route(
        "/health",
        type="http",
        auth="none",
        csrf=False,
        save_session=False,
        readonly=False,
    )
    def health(self):
        """Up (200) or down (503) for anyone; the figures for an administrator's key.

        On the primary database, not a read replica (``auth="none"`` routes
        default to one): a stalled queue is woken by a cron trigger row.
        Served without a registry too (the database down): then ``request.db``
        is unset and the figures are read on a connection of their own.
        """
        registry_up = request.db and "quotation.task" in request.env.registry
        tasks = request.env["quotation.task"] if registry_up else None
        database = request.db or compat.configured_database()
        health = database_health(database, addon_version(), tasks)
        status = 200 if health["ok"] else 503
        if not self._is_operator():
            health = {"ok": health["ok"]}
        return json_response(health, status=status)

    @http.route("/api/quotation/openapi.json", **PUBLIC_GET)
    def openapi(self):
        return json_response(openapi_document(_host_url(), addon_version()))

    @http.route("/api/quotation/elevenlabs-tools.json", **PUBLIC_GET)
    def elevenlabs_tool_definitions(self):
        return json_response(elevenlabs_tools(_host_url()))

    @http.route("/api/quotation/docs", **PUBLIC_GET)
    def docs(self):
        return request.make_response(
            DOCS_PAGE, headers=[("Content-Type", "text/html; charset=utf-8")]
        )

    # ------------------------------------------------------------------ plumbing
    def _is_operator(self):
        """The request carries the API key of an AI Quotations administrator."""
        if not (request.db and bearer_token()):
            return False
        try:
            authenticate()
        except (Unauthenticated, RateLimited):
            return False
        return request.env.user.has_group(MANAGER_GROUP)

    def _service(self):
        return QuotationService(request.env)

    def _create_quotation(self, payload):
        httprequest = request.httprequest
        service = QuotationService(deferring_wake_up(request.env))
        return 202, service.create_quotation(
            payload,
            "rest",
            httprequest.headers.get("Idempotency-Key"),
            base_url=httprequest.host_url,
        )

    def _send_quotation(self, reference, payload):
        if isinstance(payload, dict):  # else refused as not an object
            payload = {**payload, "quotation": reference}
        return self._service().send_quotation(payload)

    def _finished_in_time(self, queued):
        """200 with the finished quotation when the client prefers to wait
        for it (``Prefer: wait=N``, RFC 7240) and it is built in time; None:
        the 202 ``queued`` stands (the task is committed either way)."""
        seconds = preferred_wait(request.httprequest.headers.getlist("Prefer"))
        if not seconds:
            return None
        body = self._service().finished_within(
            json.loads(queued.get_data())["tracking_id"],
            seconds,
            base_url=request.httprequest.host_url,
        )
        if body is None:
            return None
        return json_response(body, headers={"Preference-Applied": f"wait={seconds}"})

    def _update_quotation(self, reference, payload):
        """200 with the changed quotation; 409 once it may not be changed.
        Answered in the language of the key's user (voice agents send no
        useful Accept-Language)."""
        env = request.env(context=dict(request.env.context, lang=request.env.user.lang))
        try:
            return 200, QuotationUpdateService(env).update(
                reference,
                payload,
                "rest",
                request.httprequest.headers.get("Idempotency-Key"),
            )
        except QuotationConflict as error:
            raise ApiError(409, "conflict", str(error)) from None

    def _serve(self, methods, handler, with_body=False, scope=None, savepoint=True):
        """Run ``handler`` and map every outcome to a JSON answer.

        With ``savepoint``, the handler runs in one: whatever goes wrong, it
        leaves nothing behind (two statements a read can spare). Messages
        follow the body's ``lang``, else Accept-Language.
        """
        lang = request.httprequest.accept_languages.best
        try:
            if request.httprequest.method not in methods:
                raise ApiError(
                    405,
                    "method_not_allowed",
                    messages.say(messages.BAD_METHOD, lang, methods=", ".join(methods)),
                    headers={"Allow": ", ".join(methods)},
                )
            self._authenticate(lang, scope)
            args = ()
            if with_body:
                payload = self._json_body(lang)
                if isinstance(payload, dict) and isinstance(payload.get("lang"), str):
                    lang = payload["lang"]
                args = (payload,)
            with request.env.cr.savepoint() if savepoint else nullcontext():
                status, body = handler(*args)
        except Exception as error:  # every outcome gets a JSON answer...
            if compat.retried_by_odoo(error):
                raise  # ...but a conflict, after which Odoo serves it again
            return self._error_response(self._api_error(error, lang))
        return json_response(body, status=status)

    def _api_error(self, error, lang):
        """The HTTP error for an exception; tracebacks stay in the server log."""
        if isinstance(error, ApiError):
            return error
        if isinstance(error, RequestInvalid):
            return self._invalid(error, lang)
        if isinstance(error, MissingError):
            return ApiError(404, "not_found", messages.say(messages.NOT_FOUND, lang))
        if isinstance(error, AccessError):
            reason = messages.say(messages.FORBIDDEN, lang, reason=error)
            return ApiError(403, "forbidden", reason)
        if isinstance(error, UserError):
            return ApiError(400, "bad_request", str(error))
        _logger.exception("Quotation API: unexpected error")
        return ApiError(
            500, "internal_error", messages.say(messages.INTERNAL_ERROR, lang)
        )

    def _authenticate(self, lang, scope):
        try:
            granted = authenticate()
        except Unauthenticated as error:
            raise ApiError(
                401,
                "unauthenticated",
                messages.say(messages.UNAUTHENTICATED, lang, reason=error),
                headers={"WWW-Authenticate": WWW_AUTHENTICATE},
            ) from None
        except RateLimited as error:
            raise ApiError(
                429,
                "rate_limited",
                messages.say(messages.RATE_LIMITED, lang, seconds=error.wait),
                headers={"Retry-After": str(error.wait)},
            ) from None
        if scope not in granted:
            reason = (
                f"it needs the scope {scope}; an Odoo administrator can allow it "
                "on the user's AI Agents tab."
            )
            raise ApiError(
                403,
                "insufficient_scope",
                messages.say(messages.FORBIDDEN, lang, reason=reason),
                headers={
                    "WWW-Authenticate": f'Bearer error="insufficient_scope", '
                    f'scope="{scope}"'
                },
            )

    def _json_body(self, lang):
        httprequest = request.httprequest
        if httprequest.mimetype != "application/json":
            raise ApiError(
                415,
                "unsupported_media_type",
                messages.say(messages.BAD_CONTENT_TYPE, lang),
            )
        too_large = ApiError(
            413, "payload_too_large", messages.say(messages.TOO_LARGE, lang, limit=64)
        )
        try:
            return parse_json(read_body(httprequest, MAX_BODY), MAX_BODY)
        except JsonBodyError as error:
            if error.too_large:
                raise too_large from None
            raise ApiError(
                400,
                "malformed_json",
                messages.say(messages.BAD_JSON, lang, reason=error.reason),
            ) from None

    def _invalid(self, error, lang):
        problems = "; ".join(f"{p['field']}: {p['message']}" for p in error.problems)
        return ApiError(
            422,
            "invalid_request",
            messages.say(messages.INVALID_REQUEST, lang, problems=problems),
            details=error.problems,
        )

    def _error_response(self, error):
        body = {
            "error": {
                "code": error.code,
                "message": error.message,
                "details": error.details,
            },
            "message": error.message,
        }
        return json_response(body, status=error.status, headers=error.headers)
