import json
import logging
from datetime import datetime, timezone
from functools import partial

from psycopg2 import IntegrityError

from odoo import _, api, fields, models
from odoo.tools.sql import create_index

from ..services.cron_wakeup import wake_cron_workers
from ..services.elevenlabs_webhook import AUDIO, HANDLED_TYPES, PostCallEvent
from .elevenlabs_call import CallNotReady

_logger = logging.getLogger(__name__)

PENDING = "pending"
DONE = "done"
FAILED = "failed"
CRON = "odoo_mcp_quotation.ir_cron_process_elevenlabs_deliveries"
WEBHOOK_PATH = "/api/elevenlabs/post-call"
BATCH_SIZE = 10
AUDIO_MOVED = "(stored as the call's recording)"


class DuplicateDelivery(Exception):
    """The same conversation's event of this type is already queued or landed."""


class ReplayedDelivery(Exception):
    """This very signature was received before: a replay, never a new delivery."""


class ElevenlabsWebhookDelivery(models.Model):
    """A signed post-call webhook as received: queued, then landed by a cron.

    The controller only verifies and stores it, so ElevenLabs gets its 200 in
    milliseconds; the cron matches the conversation and writes it into Odoo,
    retrying with back-off. One delivery per conversation and type: ElevenLabs'
    retries of a delivery that was already stored change nothing.
    """

    _name = "elevenlabs.webhook.delivery"
    _description = "ElevenLabs Post-Call Webhook Delivery"
    _inherit = ["quotation.queue.mixin"]
    _order = "id desc"
    _rec_name = "conversation_id"

    conversation_id = fields.Char(required=True, readonly=True, index=True)
    event_type = fields.Selection(
        [(name, name) for name in HANDLED_TYPES], required=True, readonly=True
    )
    agent_id = fields.Char(readonly=True)
    event_timestamp = fields.Integer(readonly=True)
    signed_at = fields.Datetime(readonly=True, help="The signature's timestamp.")
    signature_digest = fields.Char(
        readonly=True, help="SHA-256 of the signature header, to refuse replays."
    )
    payload = fields.Text(
        readonly=True,
        help="The body as received; a recording is moved to an attachment "
        "once it has landed.",
    )
    body_bytes = fields.Integer(string="Body Size (bytes)", readonly=True)
    state = fields.Selection(
        [(PENDING, "Pending"), (DONE, "Done"), (FAILED, "Failed")],
        default=PENDING,
        required=True,
        readonly=True,
        index=True,
    )
    attempts = fields.Integer(readonly=True)
    next_attempt_at = fields.Datetime(readonly=True)
    error = fields.Text(readonly=True)
    call_id = fields.Many2one("elevenlabs.call", readonly=True, ondelete="set null")
    company_id = fields.Many2one(related="call_id.company_id", store=True)

    _sql_constraints = [
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
    ]

    def init(self):
        create_index(
            self.env.cr,
            "elevenlabs_webhook_delivery_due_idx",
            self._table,
            ["next_attempt_at", "id"],
            where="state = 'pending'",
        )

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

    @api.model
    def _trigger_processing(self, at=None):
        """Make the cron due (at ``at``), as ``ir.cron._trigger`` does.

        A wake-up for now goes out after commit on the kept-open connection of
        ``cron_wakeup``, not on a new one per delivery as ``_trigger`` would.
        """
        cron = self.env.ref(CRON, raise_if_not_found=False)
        if not cron:
            return
        now = fields.Datetime.now()
        self.env["ir.cron.trigger"].sudo().create(
            {"cron_id": cron.id, "call_at": at or now}
        )
        if not at or at <= now:
            self.env.cr.postcommit.add(partial(wake_cron_workers, self.env.cr.dbname))

    # ------------------------------------------------------------------ processing
    @api.model
    def _cron_process(self):
        self._process_due(commit=True)

    @api.model
    def _process_due(self, commit=False):
        """Land due deliveries, each in its own transaction (as the task queue).

        Never raises: a failure is recorded on the delivery and retried with
        the task queue's back-off, up to its maximum attempts.
        """
        if commit:
            self.env["quotation.task"]._begin_claim_transaction()
        deliveries = self._lock_due(BATCH_SIZE)
        for delivery in deliveries:
            delivery._process()
            if commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit
        remaining = self.search_count(self._due_domain())
        self.env["ir.cron"]._notify_progress(done=len(deliveries), remaining=remaining)
        return deliveries

    def _process(self):
        self.ensure_one()
        self.attempts += 1
        try:
            with self.env.cr.savepoint():
                event = PostCallEvent.model_validate_json(self.payload)
                call = self.env["elevenlabs.call"]._land(event, self._last_attempt())
                vals = {"state": DONE, "call_id": call.id, "error": False}
                if event.type == AUDIO:
                    vals["payload"] = self._payload_without_audio(event)
                self.write(vals)
                self._audit("done")
        except CallNotReady as error:
            self._retry_later(str(error))
        except Exception as error:
            _logger.exception(
                "ElevenLabs delivery %s: attempt %s failed", self.id, self.attempts
            )
            message = _(
                "Unexpected error (%(type)s): %(error)s",
                type=type(error).__name__,
                error=error,
            )
            if self._last_attempt():
                self.write({"state": FAILED, "error": message})
                self._audit("failed")
            else:
                self._retry_later(message)

    def _retry_later(self, error):
        """Back off as the task queue does (its settings), then try again."""
        delay = self.env["quotation.task"]._backoff(self.attempts)
        self.write({"error": error, "next_attempt_at": fields.Datetime.now() + delay})
        self._trigger_processing(self.next_attempt_at)

    def _last_attempt(self):
        return self.attempts >= self.env["quotation.task"]._queue_setting(
            "max_attempts"
        )

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
