import hashlib
import json
import logging
from datetime import datetime, timezone

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from .. import compat
from ..lib.audit_store import (
    KEY_SEGMENT,
    AuditStoreError,
    build_destinations,
    object_key,
    put_many,
)
from ..lib.request_schema import TRACKING_ID
from ..lib.settings import read_setting
from .cron_queue_mixin import PENDING

_logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
SENT = "sent"
EVENTS = [
    ("created", "Created"),
    ("done", "Done"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
    ("retried", "Retried"),
    ("received", "Received"),  # an ElevenLabs post-call delivery
    ("updated", "Updated"),  # an agent changed the task's quotation
]
ONCE_PER_TASK = ("created", "done")

CRON = "odoo_mcp_quotation.ir_cron_send_audit_entries"


def audit_time(moment):
    """A moment as audit documents write it: UTC, to the millisecond."""
    return moment.isoformat(timespec="milliseconds") + "Z" if moment else None


def audit_user(user):
    return {"id": user.id, "login": user.login, "name": user.name} if user else None


@compat.unique_constraints(
    ("key_uniq", "unique(key)", "Two audit documents cannot share one key."),
)
class QuotationAuditEntry(models.Model):
    """One audit document waiting for, or done with, its trip to S3: an outbox.

    Entries are written in the transaction that changes the task, so the log
    holds exactly what was committed; a cron sends them after commit, retries
    with back-off for as long as it takes, and never deletes an unsent entry.
    The queue runner claims a batch; its work step uploads the whole batch at
    once, in the cron's transaction, whose row locks keep other senders off.
    """

    _name = "quotation.audit.entry"
    _inherit = ["cron.queue.mixin"]
    _description = "Quotation Audit Log Entry"
    _order = "id desc"
    _rec_name = "key"
    _queue_crons = (CRON,)
    _queue_done_state = SENT
    _queue_chunk_size = 0  # the whole batch, uploaded in parallel

    task_id = fields.Many2one(
        "quotation.task", readonly=True, index=True, ondelete="set null"
    )
    tracking_id = fields.Char(string="Tracking ID", required=True, readonly=True)
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    event = fields.Selection(EVENTS, required=True, readonly=True)
    key = fields.Char(
        string="Object Key",
        required=True,
        readonly=True,
        help="Where the document goes: <prefix>/YYYY/MM/DD/<tracking id>/<event>.json",
    )
    document = fields.Text(readonly=True, help="The JSON document, byte for byte.")
    state = fields.Selection(selection_add=[(SENT, "Sent")], ondelete={SENT: "cascade"})
    error = fields.Text(string="Last Error")
    sent_at = fields.Datetime(readonly=True, index=True)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_pending(self):
        """Unsent entries are the log itself; discarding them must be deliberate."""
        if self._is_enabled() and any(entry.state != SENT for entry in self):
            raise UserError(
                _(
                    "Audit entries that were not sent yet cannot be deleted: fix "
                    "the destination in Settings and they go out by themselves. "
                    "To discard them on purpose, disable the audit log first."
                )
            )

    # ------------------------------------------------------------------ actions
    def action_send_now(self):
        """Skip the back-off of pending entries (all, or those selected)."""
        entries = (self or self.search([])).filtered(lambda e: e.state == PENDING)
        entries.write({"next_attempt_at": False})
        self._trigger_processing()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "info",
                "message": _("%s audit entries will be sent shortly.", len(entries)),
            },
        }

    # ------------------------------------------------------------------ writing
    @api.model
    def _audit_setting(self, name):
        return read_setting(self.env, f"audit_{name}")

    @api.model
    def _is_enabled(self):
        return self._audit_setting("enabled")

    @api.model
    def _record(self, tasks, event):
        """Write one entry per task in the caller's transaction (if enabled)."""
        if not tasks or not self._is_enabled():
            return self.browse()
        # to the millisecond: fields.Datetime.now() drops the fraction
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        actor = self.env.user
        prefix = self._key_prefix()
        vals_list = []
        for task in tasks.sudo():
            key = self._object_key(task, event, prefix)
            document = task._prepare_audit_document(event, now, actor)
            vals_list.append(
                {
                    "task_id": task.id,
                    "tracking_id": task.tracking_id,
                    "company_id": task.company_id.id,
                    "event": event,
                    "key": key,
                    "document": json.dumps(document, ensure_ascii=False, indent=2),
                }
            )
        entries = self.sudo().create(vals_list)
        if event != "created":
            # a new task wakes the processing cron, whose outcome entry wakes
            # this one: the request path skips a trigger row
            self._trigger_processing()
        return entries

    @api.model
    def _key_prefix(self):
        """The Settings' key prefix, or the default one where it is unsafe."""
        return self._audit_setting("prefix")

    @api.model
    def _record_document(self, tracking_id, company, event, *, name, document, dated):
        """Queue a document that is not a task's (a post-call webhook delivery).

        Keyed ``<prefix>/YYYY/MM/DD/<tracking_id>/<name>.json``, dated ``dated``;
        the document gets the common envelope of every audit document.
        """
        if not self._is_enabled():
            return self.browse()
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        # the id comes from outside: it names a folder only if it is a safe one
        folder = tracking_id
        if not KEY_SEGMENT.fullmatch(folder or "") or len(folder) > 128:
            folder = "id-" + hashlib.sha256((folder or "").encode()).hexdigest()[:32]
        key = object_key(
            self._key_prefix(), *f"{dated:%Y/%m/%d}".split("/"), folder, f"{name}.json"
        )
        envelope = self._prepare_envelope(
            event, now, tracking_id, company, self.env.user
        )
        entry = self.sudo().create(
            {
                "tracking_id": tracking_id,
                "company_id": company.id,
                "event": event,
                "key": key,
                "document": json.dumps(
                    {**envelope, **document}, ensure_ascii=False, indent=2
                ),
            }
        )
        self._trigger_processing()
        return entry

    @api.model
    def _prepare_envelope(self, event, occurred_at, tracking_id, company, actor):
        """The members every audit document starts with (docs/audit-log.md)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "event": event,
            "occurred_at": audit_time(occurred_at),
            "database": self.env.cr.dbname,
            "tracking_id": tracking_id,
            "company": {"id": company.id, "name": company.name},
            "actor": audit_user(actor),
        }

    @api.model
    def _object_key(self, task, event, prefix):
        """``<prefix>/YYYY/MM/DD/<tracking id>/<event>.json``, dated by the task.

        All documents of one task share its creation day's folder; an event
        that happens again (a second failure after a retry) gets ``-2``, ``-3``.
        Only checked parts make a key: a task whose tracking id is not Odoo's
        own format (one forged before it was checked) files under its row id.
        """
        name = event
        if event not in ONCE_PER_TASK:
            count = self.sudo().search_count(
                [("task_id", "=", task.id), ("event", "=", event)]
            )
            if count:
                name = f"{event}-{count + 1}"
        folder = task.tracking_id
        if not TRACKING_ID.fullmatch(folder or ""):
            folder = f"task-{task.id}"
        return object_key(
            prefix, *f"{task.create_date:%Y/%m/%d}".split("/"), folder, f"{name}.json"
        )

    # ------------------------------------------------------------------ sending
    @api.model
    def _queue_setting(self, key):
        """The outbox retries for as long as it takes, leased as tasks are."""
        if key == "max_attempts":
            return 0
        if key == "lease_seconds":
            return self.env["quotation.task"]._queue_setting(key)
        return self._audit_setting(key)

    @api.model
    def _destination_config(self):
        names = (
            "s3_bucket",
            "s3_region",
            "s3_endpoint_url",
            "s3_access_key_id",
            "s3_secret_access_key",
            "local_directory",
            "concurrency",
        )
        return {name: self._audit_setting(name) for name in names}

    @api.model
    def _process_due(self, commit=False, limit=None, only=None):
        """Send one batch of due entries, unless the log is disabled.

        The row locks are held while uploading, so a second sender (another
        server, the button) skips these entries; a crash before commit leaves
        them pending and the next round writes the same key with the same body.
        """
        if not self._is_enabled():  # kept, not sent, until it is enabled again
            return self.browse()
        return super()._process_due(commit=commit, limit=limit, only=only)

    def _run_attempt(self):
        """Upload these entries at once; each one is sent or backs off."""
        errors = self._upload()
        failed = self.browse(
            entry.id for entry, error in zip(self, errors, strict=True) if error
        )
        (self - failed)._set_done()
        for entry, error in zip(self, errors, strict=True):
            if error:
                entry._record_failed_attempt(error)
        if failed:
            _logger.warning(
                "Audit log: %s of %s entries not sent, kept for a retry: %s",
                len(failed),
                len(self),
                failed[0].error,
            )

    def _prepare_finish_values(self):
        return {"sent_at": fields.Datetime.now()}

    def _count_remaining(self):
        """No rows left (0) when none went out, so that Odoo runs the cron
        again at its interval rather than at once: a store that is down is
        not hammered."""
        if not self.filtered(lambda entry: entry.state == SENT):
            return 0
        return super()._count_remaining()

    def _upload(self):
        """One error message (or None) per entry, in order."""
        config = self._destination_config()
        documents = [(entry.key, entry.document.encode()) for entry in self]
        try:
            destinations = build_destinations(config)
            return put_many(destinations, documents, config["concurrency"])
        except AuditStoreError as error:
            return [str(error)] * len(self)
        except Exception as error:
            _logger.exception("Audit log: unexpected error while uploading")
            message = _(
                "Unexpected error (%s) while sending; the server log has the details.",
                type(error).__name__,
            )
            return [message] * len(self)

    @api.model
    def _cron_send_pending(self):
        """Send a batch in the cron's transaction; forget old entries when idle.

        Never raises: a cron that keeps failing is deactivated by Odoo.
        """
        try:
            with self.env.cr.savepoint():
                self._process_due()
                if not self.search_count(self._due_domain(), limit=1):
                    self._vacuum_sent()
        except Exception:
            _logger.exception("Audit log: sending round failed, retried next round")

    @api.model
    def _vacuum_sent(self):
        """Forget sent entries after the retention period: S3 keeps the record."""
        self._forget_done(self._audit_setting("retention_days"), "sent_at")
