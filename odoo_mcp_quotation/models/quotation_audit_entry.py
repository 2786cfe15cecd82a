import hashlib
import json
import logging
from datetime import datetime, timedelta, timezone

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools.sql import create_index

from ..services.audit_store import (
    KEY_SEGMENT,
    AuditStoreError,
    build_destinations,
    key_prefix,
    object_key,
    put_many,
)
from ..services.request_schema import TRACKING_ID

_logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
PENDING = "pending"
SENT = "sent"
EVENTS = [
    ("created", "Created"),
    ("done", "Done"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
    ("retried", "Retried"),
    ("received", "Received"),  # an ElevenLabs post-call delivery
]
ONCE_PER_TASK = ("created", "done")

# Settings: ir.config_parameter keys (odoo_mcp_quotation.audit_<name>) and defaults.
PARAM_PREFIX = "odoo_mcp_quotation.audit_"
DEFAULTS = {
    "enabled": "",
    "prefix": "quotation-audit",
    "s3_bucket": "",
    "s3_region": "",
    "s3_endpoint_url": "",
    "s3_access_key_id": "",
    "s3_secret_access_key": "",
    "local_directory": "",
    "batch_size": 100,
    "concurrency": 8,
    "backoff_seconds": 30,  # first retry after 30 s, then 60, 120, ...
    "backoff_max_seconds": 600,  # never more than 10 min behind a recovered store
    "retention_days": 30,  # sent entries kept in Odoo; 0 keeps them forever
}
CRON = "odoo_mcp_quotation.ir_cron_send_audit_entries"


def audit_time(moment):
    """A moment as audit documents write it: UTC, to the millisecond."""
    return moment.isoformat(timespec="milliseconds") + "Z" if moment else None


def audit_user(user):
    return {"id": user.id, "login": user.login, "name": user.name} if user else None


class QuotationAuditEntry(models.Model):
    """One audit document waiting for, or done with, its trip to S3: an outbox.

    Entries are written in the transaction that changes the task, so the log
    holds exactly what was committed; a cron sends them after commit, retries
    with back-off for as long as it takes, and never deletes an unsent entry.
    """

    _name = "quotation.audit.entry"
    _inherit = ["quotation.queue.mixin"]
    _description = "Quotation Audit Log Entry"
    _order = "id desc"
    _rec_name = "key"

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
    state = fields.Selection(
        [(PENDING, "Pending"), (SENT, "Sent")],
        default=PENDING,
        required=True,
        readonly=True,
        index=True,
    )
    attempts = fields.Integer(readonly=True, help="Sending rounds that failed.")
    error = fields.Text(string="Last Error", readonly=True)
    next_attempt_at = fields.Datetime(readonly=True)
    sent_at = fields.Datetime(readonly=True, index=True)

    _sql_constraints = [
        ("key_uniq", "unique(key)", "Two audit documents cannot share one key."),
    ]

    def init(self):
        create_index(
            self.env.cr,
            "quotation_audit_entry_due_idx",
            self._table,
            ["next_attempt_at", "id"],
            where="state = 'pending'",
        )

    @api.ondelete(at_uninstall=False)
    def _unlink_except_pending(self):
        """Unsent entries are the log itself; discarding them must be deliberate."""
        if self._is_enabled() and any(entry.state == PENDING for entry in self):
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
        self._trigger_sending()
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
        value = self.env["ir.config_parameter"].sudo().get_param(PARAM_PREFIX + name)
        default = DEFAULTS[name]
        if isinstance(default, int):
            try:
                return int(value) if value else default
            except ValueError:
                return default
        return (value or default).strip()

    @api.model
    def _is_enabled(self):
        return self._audit_setting("enabled") not in ("", "False", "0")

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
            # this one: the request path skips a trigger row (~0.7 ms)
            self._trigger_sending()
        return entries

    @api.model
    def _key_prefix(self):
        """The Settings' key prefix, or the default one where it is unsafe."""
        try:
            return key_prefix(self._audit_setting("prefix"))
        except ValueError:
            _logger.warning("Audit log: unsafe key prefix ignored; fix it in Settings")
            return DEFAULTS["prefix"]

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
        self._trigger_sending()
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
    def _trigger_sending(self):
        cron = self.env.ref(CRON, raise_if_not_found=False)
        if cron:
            cron.sudo()._trigger()

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
    def _send_pending(self, limit=None):
        """Send one batch of due entries; return ``(sent, failed)``.

        The row locks are held while uploading, so a second sender (another
        server, the button) skips these entries; a crash before commit leaves
        them pending and the next round writes the same key with the same body.
        """
        if not self._is_enabled():  # kept, not sent, until it is enabled again
            return self.browse(), self.browse()
        entries = self._lock_due(limit or self._audit_setting("batch_size"))
        if not entries:
            return entries, entries
        errors = self._upload(entries)
        failed = entries.browse(
            entry.id for entry, error in zip(entries, errors, strict=True) if error
        )
        sent = entries - failed
        sent.write({"state": SENT, "sent_at": fields.Datetime.now(), "error": False})
        for entry, error in zip(entries, errors, strict=True):
            if error:
                entry._record_failed_attempt(error)
        if failed:
            _logger.warning(
                "Audit log: %s of %s entries not sent, kept for a retry: %s",
                len(failed),
                len(entries),
                failed[0].error,
            )
        return sent, failed

    def _upload(self, entries):
        """One error message (or None) per entry, in order."""
        config = self._destination_config()
        documents = [(entry.key, entry.document.encode()) for entry in entries]
        try:
            destinations = build_destinations(config)
            return put_many(destinations, documents, config["concurrency"])
        except AuditStoreError as error:
            return [str(error)] * len(entries)
        except Exception as error:
            _logger.exception("Audit log: unexpected error while uploading")
            message = _(
                "Unexpected error (%s) while sending; the server log has the details.",
                type(error).__name__,
            )
            return [message] * len(entries)

    def _record_failed_attempt(self, error):
        self.ensure_one()
        base = self._audit_setting("backoff_seconds")
        ceiling = self._audit_setting("backoff_max_seconds")
        delay = min(ceiling, base * 2 ** min(self.attempts, 20))
        self.write(
            {
                "attempts": self.attempts + 1,
                "error": error,
                "next_attempt_at": fields.Datetime.now() + timedelta(seconds=delay),
            }
        )

    @api.model
    def _cron_send_pending(self):
        """Send a batch; report progress so Odoo calls again while work remains.

        Never raises: a cron that keeps failing is deactivated by Odoo.
        """
        try:
            with self.env.cr.savepoint():
                sent, _failed = self._send_pending()
                remaining = self.search_count(self._due_domain()) if sent else 0
                if not remaining:
                    self._vacuum_sent()
        except Exception:
            _logger.exception("Audit log: sending round failed, retried next round")
            return
        self.env["ir.cron"]._notify_progress(done=len(sent), remaining=remaining)

    @api.model
    def _vacuum_sent(self, limit=1000):
        """Forget sent entries after the retention period: S3 keeps the record."""
        days = self._audit_setting("retention_days")
        if days <= 0:
            return
        old = self.search(
            [
                ("state", "=", SENT),
                ("sent_at", "<", fields.Datetime.now() - timedelta(days=days)),
            ],
            limit=limit,
        )
        old.unlink()
