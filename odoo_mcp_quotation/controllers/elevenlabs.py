"""ElevenLabs post-call webhook: verify, queue, answer 200 at once.

ElevenLabs disables a webhook that keeps failing, so the answer comes before
any work: the signature is checked, the delivery stored, and a cron lands it
in Odoo. Nothing is written for a delivery that is refused.
"""

import json
import logging

from odoo import http
from odoo.http import request

from ..lib.elevenlabs_webhook import (
    SIGNATURE_HEADER,
    SignatureInvalid,
    parse_event,
)
from ..lib.json_body import JsonBodyError
from ..lib.request_schema import RequestInvalid
from ..models.elevenlabs_webhook_delivery import DuplicateDelivery, ReplayedDelivery
from ..services.caller import identify_webhook
from .request_body import read_body

_logger = logging.getLogger(__name__)

# a recording of a long call, base64-encoded, with room to spare
MAX_BODY = 25 * 1024 * 1024


class WebhookRefused(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class ElevenlabsWebhookController(http.Controller):
    @http.route(
        "/api/elevenlabs/post-call",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def post_call(self):
        try:
            status, body = self._receive()
        except WebhookRefused as refused:
            status = refused.status
            body = {"error": {"code": refused.code, "message": refused.message}}
        return request.make_json_response(body, status=status)

    def _receive(self):
        httprequest = request.httprequest
        try:
            raw = read_body(httprequest, MAX_BODY)
        except JsonBodyError as error:
            if error.too_large:
                raise self._too_large() from None
            raise WebhookRefused(400, "malformed_json", error.reason) from None
        env = request.env(su=True)
        header = httprequest.headers.get(SIGNATURE_HEADER, "")
        try:
            signature = identify_webhook(env, header, raw)
        except SignatureInvalid as error:
            _logger.info("ElevenLabs webhook refused: %s", error)
            raise WebhookRefused(401, "invalid_signature", str(error)) from None
        try:
            event = parse_event(json.loads(raw.decode()))
        except ValueError as error:  # not UTF-8, or not JSON
            raise WebhookRefused(400, "malformed_json", str(error)) from None
        except RequestInvalid as error:
            raise WebhookRefused(422, "invalid_payload", str(error)) from None
        if event is None:
            return 200, {"status": "ignored"}
        try:
            with env.cr.savepoint():
                env["elevenlabs.webhook.delivery"]._receive(
                    event, raw, signature.replay_key, signature.timestamp
                )
        except ReplayedDelivery:
            raise WebhookRefused(
                401, "replayed", "This signed delivery was already received."
            ) from None
        except DuplicateDelivery:
            return 200, {"status": "duplicate"}
        return 200, {"status": "queued"}

    def _too_large(self):
        return WebhookRefused(
            413,
            "payload_too_large",
            f"The body exceeds {MAX_BODY // (1024 * 1024)} MiB.",
        )
