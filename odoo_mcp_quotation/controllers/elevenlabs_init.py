"""ElevenLabs conversation initiation webhook: the caller's variables before
the call starts (services/conversation_init.py does the work).

The secret header is checked before the body is read: a stranger's request
costs no read, no parse and no query beyond the setting.
"""

from odoo import http
from odoo.http import request

from ..lib.conversation_init import MAX_BODY, PATH, SECRET_HEADER
from ..lib.json_body import JsonBodyError, parse_json
from ..services.conversation_init import (
    InitiationRefused,
    answer_initiation,
    check_secret,
)
from .request_body import read_body


class ElevenlabsInitiationController(http.Controller):
    @http.route(
        PATH,
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def conversation_init(self):
        env = request.env(su=True)
        httprequest = request.httprequest
        try:
            check_secret(env, httprequest.headers.get(SECRET_HEADER))
            answer = answer_initiation(env, self._payload(httprequest))
        except InitiationRefused as refused:
            error = {"code": refused.code, "message": refused.message}
            return request.make_json_response({"error": error}, status=refused.status)
        return request.make_json_response(answer)

    def _payload(self, httprequest):
        try:
            return parse_json(read_body(httprequest, MAX_BODY), MAX_BODY)
        except JsonBodyError as error:
            if error.too_large:
                raise InitiationRefused(
                    413, "payload_too_large", error.reason
                ) from None
            raise InitiationRefused(400, "malformed_json", error.reason) from None
