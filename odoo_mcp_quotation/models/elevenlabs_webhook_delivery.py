import json
from datetime import datetime, timezone

from psycopg2 import IntegrityError

from odoo import api, fields, models

from .. import compat
from ..lib.elevenlabs_webhook import AUDIO, HANDLED_TYPES, PostCallEvent
from ..lib.settings import read_setting
from .cron_queue_mixin import DONE, FAILED
from .elevenlabs_call import CallNotReady

CRON = "odoo_mcp_quotation.ir_cron_process_elevenlabs_deliveries"
WEBHOOK_PATH = "/api/elevenlabs/post-call"
AUDIO_MOVED = "(stored as the call's recording)"


class DuplicateDelivery(Exception):
    """The same conversation's event of this type is already queued or landed."""


class ReplayedDelivery(Exception):
    """This very signature was received before: a replay, never a new delivery."""


@compat.unique_constraints(
    (
        "conversation_type_uniq",
        "unique(conversation_id, event_type)",
        "This conversation's event was already received.",
    ),
    (
        "signature_uniq",
        "unique(signature_digest)",
        "This signature was already used.",
    ),
)
class ElevenlabsWebhookDelivery(models.Model):
    """A signed post-call webhook as received: queued, then landed by a cron.

    The controller only verifies and stores it, so ElevenLabs gets its 200 in
    milliseconds; the queue runner's cron matches the conversation and writes
    it into Odoo, retrying with the task queue's back-off and attempts. One
    delivery per conversation and type: ElevenLabs' retries of a delivery that
    was already stored change nothing.
    """

    _name = "elevenlabs.webhook.delivery"
    _description = "ElevenLabs Post-Call Webhook Delivery"
    _inherit = ["cron.queue.mixin"]
    _order = "id desc"
    _rec_name = "conversation_id"
    _queue_crons = (CRON,)

    conversation_id = fields.Char(required=True, readonly=True, index=True)
    event_type = fields.Selection(
        [(name, name) for name in HANDLED_TYPES], required=True, readonly=True
    )
    agent_id = fields.Char(readonly=True)
    event_timestamp = fields.Integer(readonly=True)
    signed_at = fields.Datetime(readonly=True, help="The signature's timestamp.")
    signature_digest = fields.Char(
        readonly=True,
        help="SHA-256 of the signature's timestamp and matching v0, to refuse "
        "replays however the header is written.",
    )
    payload = fields.Text(
        readonly=True,
        help="The body as received; a recording is moved to an attachment "
        "once it has landed.",
    )
    body_bytes = fields.Integer(string="Body Size (bytes)", readonly=True)
    state = fields.Selection(
        selection_add=[(DONE, "Done"), (FAILED, "Failed")],
        ondelete=dict.fromkeys((DONE, FAILED), "cascade"),
    )
    call_id = fields.Many2one("elevenlabs.call", readonly=True, ondelete="set null")
    company_id = fields.Many2one(related="call_id.company_id", store=True)

    # ------------------------------------------------------------------ receiving
    @api.model
    def _receive(self, event, body, signature_digest, signed_at):
        """Queue a verified delivery; raise ReplayedDelivery or DuplicateDelivery.

        Runs as superuser in the controller's savepoint: nothing is left behind
        when it raises.
        """
        if self.search_count([("signature_digest", "=", signature_digest)], limit=1):
            raise ReplayedDelivery()
        if self._find_duplicate(event):
            raise DuplicateDelivery()
        vals = {
            "conversation_id": event.data.conversation_id,
            "event_type": event.type,
            "agent_id": event.data.agent_id,
            "event_timestamp": event.event_timestamp,
            "signed_at": datetime.fromtimestamp(signed_at, timezone.utc).replace(
                tzinfo=None
            ),
            "signature_digest": signature_digest,
            "payload": body.decode(),
            "body_bytes": len(body),
        }
        try:
            with self.env.cr.savepoint():
                delivery = self.create(vals)
        except IntegrityError:  # the same delivery, racing on another worker
            if self.search_count([("signature_digest", "=", signature_digest)]):
                raise ReplayedDelivery() from None
            raise DuplicateDelivery() from None
        delivery._audit("received")
        self._trigger_processing()
        return delivery

    @api.model
    def _find_duplicate(self, event):
        return self.search_count(
            [
                ("conversation_id", "=", event.data.conversation_id),
                ("event_type", "=", event.type),
            ],
            limit=1,
        )

    # ------------------------------------------------------------------ processing
    @api.model
    def _cron_process(self):
        processed = super()._cron_process()
        self._vacuum_landed()
        return processed

    @api.model
    def _vacuum_landed(self):
        """Forget landed deliveries after the retention period: the call on the
        opportunity keeps what Odoo needs, and the raw body (the transcript,
        the caller's number) need not stay twice. Replays stay refused: a
        signature older than 30 minutes is refused before any row is read."""
        days = read_setting(self.env, "elevenlabs_delivery_retention_days")
        self._forget_done(days, "write_date")

    def _perform(self):
        """Land the event; the last attempt lands it even if its task is unfinished."""
        event = PostCallEvent.model_validate_json(self.payload)
        last = self.attempts >= self._max_attempts()
        call = self.env["elevenlabs.call"]._land(event, last)
        values = {"call_id": call.id}
        if event.type == AUDIO:
            values["payload"] = self._payload_without_audio(event)
        return values

    def _describe_failure(self, error):
        if isinstance(error, CallNotReady):
            return str(error), True
        return super()._describe_failure(error)

    def _payload_without_audio(self, event):
        data = event.model_dump(mode="json", exclude_none=True)
        data["data"]["full_audio"] = AUDIO_MOVED
        return json.dumps(data, ensure_ascii=False)

    # ------------------------------------------------------------------ audit log
    def _audit(self, event):
        """One audit document per step, with what came in and where it landed."""
        self.ensure_one()
        self.env["quotation.audit.entry"]._record_document(
            self.conversation_id,
            self.call_id.company_id or self.env.company,
            event,
            name=f"{self.event_type}-{event}",
            document=self._prepare_audit_document(event),
            dated=self.create_date,
        )

    def _prepare_audit_document(self, event):
        """The received event without the recording (its size and hash instead)."""
        body = json.loads(self.payload)
        audio = body.get("data", {}).pop("full_audio", None)
        call = self.call_id
        document = {
            "source": "elevenlabs_post_call_webhook",
            "event_type": self.event_type,
            "conversation_id": self.conversation_id,
            "agent_id": self.agent_id,
            "signed_at": self.signed_at.isoformat() + "Z",
            "body_bytes": self.body_bytes,
            "state": self.state,
            "attempts": self.attempts,
            "data": body.get("data"),
        }
        if audio and self.event_type == AUDIO and event == "received":
            document["audio_base64_chars"] = len(audio)
        if event == "done":
            document["outcome"] = call._audit_outcome()
        elif event == "failed":
            document["outcome"] = {"error": self.error}
        return document
