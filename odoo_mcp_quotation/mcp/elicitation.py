"""Elicitation: a tool that asks its client's user before it goes on.

No Odoo here; this module holds the whole exchange, end to end. A tool
handler raises :class:`InputRequired` with its questions. A 2026-07-28
client gets an ``input_required`` result and calls the tool again with the
answers. A 2025-11-25 client that declared form elicitation is asked on the
event stream that answers its tools/call (:class:`Elicitation`): the
transport holds that stream, hands the questions out, routes the client's
answers (POSTed like any message, possibly to another worker) back to it
(:func:`is_answer`), and sends the response computed with them. Any other
client gets the tool run without questions.

The transport supplies what waits (``services/mcp_streams.py`` in Odoo): a
mailbox that knows which ids were asked and takes only their answers.
"""

import logging
import secrets
from contextlib import suppress

import mcp_types as types
from mcp_types import methods as mcp_methods
from mcp_types.version import is_version_at_least
from pydantic import ValidationError

from .errors import INTERNAL_ERROR, INTERNAL_MESSAGE, error_response
from .framing import EVENT_STREAM, dumps, sse_event
from .versions import is_modern

_logger = logging.getLogger(__name__)

# a handshake-era server asks its client with an ``elicitation/create`` request
# of its own, sent on the stream that answers the tools/call (form mode came
# with 2025-11-25); 2026-07-28 answers with an input-required result instead
ELICITATION_SINCE = "2025-11-25"
ELICITATION_REQUEST_PREFIX = "elicit-"
# a tools/call that asks its client waits this long for the answers at most
# (less where its transport must end the stream sooner)
WAIT_SECONDS = 300
CLIENT_LEFT = "client_left"  # what a mailbox's wait returns when the client hung up


class InputRequired(Exception):
    """The tool must ask the user before it can go on.

    ``questions`` maps a key of the tool's choosing to the params of a form
    ``elicitation/create``; the answers come back under the same keys.
    """

    def __init__(self, questions):
        super().__init__(f"{len(questions)} question(s) for the user")
        self.questions = questions


class Elicitation(Exception):
    """A tools/call that asks its client first (2025-11-25 form elicitation).

    Raised by the server and handed to the transport, which answers the POST
    with an event stream (:meth:`events`): each of :meth:`requests` in turn,
    the client's answer to each, then the response, computed in a
    transaction of its own.
    """

    def __init__(self, server, tool, arguments, questions, version):
        super().__init__(f"{len(questions)} question(s) for the client")
        self.server = server
        self.tool = tool
        self.arguments = arguments
        self.version = version
        self.request_id = None  # the tools/call's, set by McpServer.handle
        token = secrets.token_urlsafe(12)
        self._questions = {
            f"{ELICITATION_REQUEST_PREFIX}{token}-{key}": (key, question)
            for key, question in questions.items()
        }
        self._answers = {}

    def requests(self):
        """The ``elicitation/create`` requests, one per question, to send in turn."""
        return [
            {
                "jsonrpc": "2.0",
                "id": request_id,
                "method": "elicitation/create",
                "params": types.ElicitRequestFormParams.model_validate(
                    question
                ).model_dump(mode="json", by_alias=True, exclude_none=True),
            }
            for request_id, (_key, question) in self._questions.items()
        ]

    def answer(self, request_id, message):
        """Record the client's JSON-RPC answer to one request; an error, a
        malformed result or no answer at all (None) counts as cancelled."""
        key, _question = self._questions[request_id]
        result = {"action": "cancel"}
        if isinstance(message, dict) and isinstance(message.get("result"), dict):
            with suppress(ValidationError):
                result = mcp_methods.parse_client_result(
                    "elicitation/create", self.version, message["result"]
                ).model_dump(mode="json", by_alias=True, exclude_none=True)
        self._answers[key] = result

    def response(self, context):
        """The tools/call's response, the tool run again with the answers (a
        question left unanswered counts as cancelled)."""
        answers = {
            key: self._answers.get(key, {"action": "cancel"})
            for key, _question in self._questions.values()
        }
        try:
            result = self.server.run_tool(
                self.tool, context, self.arguments, answers, self.version
            )
        except InputRequired:  # asks again: go on as for a client that cannot
            result = self.server.run_tool(
                self.tool, context, self.arguments, None, self.version
            )
        return {"jsonrpc": "2.0", "id": self.request_id, "result": result}

    def _answer(self, respond):
        """The response ``respond`` computes; an Internal error when it fails
        (after the transport's own retries, if any)."""
        try:
            return respond(self.response)
        except Exception:
            _logger.exception("MCP tools/call failed after asking the client")
            return error_response(self.request_id, INTERNAL_ERROR, INTERNAL_MESSAGE)

    def events(self, mailbox, respond):
        """The stream's body: each question, then the response.

        ``mailbox`` is the transport's: ``ask(id)`` before a question goes
        out (its answer is taken from then on, no other), ``wait(id)`` a
        generator that yields keep-alives and returns the answer, None at its
        deadline or :data:`CLIENT_LEFT`, ``close()`` once the asking is over.
        ``respond(self.response)`` computes the response as the caller, in a
        transaction of its own (which it may run again when a concurrent
        one conflicts with it). A client that hangs up is not answered, and
        nothing is made for it.
        """
        try:
            for question in self.requests():
                mailbox.ask(question["id"])
                yield sse_event(dumps(question))
                answer = yield from mailbox.wait(question["id"])
                if answer == CLIENT_LEFT:
                    return
                if answer is None:
                    break  # too late: the rest is not asked at all
                self.answer(question["id"], answer)
        finally:
            mailbox.close()
        yield sse_event(dumps(self._answer(respond)))


def answers_forms(elicitation):
    """Whether an ``elicitation`` capability takes forms (``{}`` means forms)."""
    return isinstance(elicitation, dict) and (not elicitation or "form" in elicitation)


def session_asks_forms(version, capabilities):
    """Whether a client that initializes with ``capabilities`` may be asked."""
    return is_version_at_least(version, ELICITATION_SINCE) and answers_forms(
        (capabilities or {}).get("elicitation")
    )


def offer_stream(exchange, sessions, session_id, accept):
    """Let a handshake-era tools/call ask on a stream, if its client can be
    asked there: it declared forms in its session and accepts an event
    stream. ``exchange.open_stream`` takes a stream's slot when asked to."""
    if (
        session_id
        and is_version_at_least(exchange.version, ELICITATION_SINCE)
        and EVENT_STREAM in (accept or "").lower()
        and sessions.asks_forms(session_id)
    ):
        exchange.open_stream = sessions.reserve_stream


def answers_in_call(params, exchange):
    """The client's answers to a tool's questions: ``{key: ElicitResult}``,
    or None when the client cannot be asked (no form elicitation among this
    request's capabilities at 2026-07-28, or no stream offered before)."""
    if not is_modern(exchange.version):
        return {} if exchange.open_stream else None  # asked on the stream
    if not answers_forms(exchange.client_capabilities.get("elicitation")):
        return None
    responses = params.get("inputResponses") or {}
    return {
        key: answer for key, answer in responses.items() if isinstance(answer, dict)
    }


def ask(server, tool, arguments, needed, exchange):
    """What a tools/call answers when its tool needs input (``needed``): an
    input-required result at 2026-07-28; else :class:`Elicitation` raised
    for the transport, once a stream is taken; else the tool run without
    questions."""
    version = exchange.version
    if is_modern(version):
        return input_required_result(needed.questions, version)
    if not (exchange.open_stream and exchange.open_stream()):  # no stream free now
        return server.run_tool(tool, exchange.context, arguments, None, version)
    raise Elicitation(server, tool, arguments, needed.questions, version)


def input_required_result(questions, version):
    """The 2026-07-28 result that asks the client's user before going on."""
    return mcp_methods.serialize_server_result(
        "tools/call",
        version,
        {
            "resultType": "input_required",
            "inputRequests": {
                key: {
                    "method": "elicitation/create",
                    "params": {"mode": "form", **question},
                }
                for key, question in questions.items()
            },
        },
    )


def is_answer(message):
    """A client's JSON-RPC answer to an ``elicitation/create`` of ours."""
    if not isinstance(message, dict):
        return False
    request_id = message.get("id")
    return (
        "method" not in message
        and isinstance(request_id, str)
        and request_id.startswith(ELICITATION_REQUEST_PREFIX)
        and ("result" in message or "error" in message)
    )
