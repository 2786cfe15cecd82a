import json
import logging
import secrets
import time
from datetime import timedelta
from functools import partial

from psycopg2 import IntegrityError
from psycopg2.errors import SerializationFailure

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL
from odoo.tools.sql import create_index

from ..services.cron_wakeup import wake_cron_workers
from ..services.health import queue_figures
from ..services.quotation_builder import (
    QuotationBuilder,
    QuotationBuildError,
    QuotationRetryLater,
)
from ..services.quotation_service import quotation_lines
from ..services.request_schema import TRACKING_ID
from .quotation_audit_entry import audit_time, audit_user

_logger = logging.getLogger(__name__)

PENDING = "pending"
PROCESSING = "processing"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"
STATES = [
    (PENDING, "Pending"),
    (PROCESSING, "Processing"),
    (DONE, "Done"),
    (FAILED, "Failed"),
    (CANCELLED, "Cancelled"),
]

# Queue settings: ir.config_parameter keys and their defaults.
PARAM_PREFIX = "odoo_mcp_quotation."
DEFAULTS = {
    "max_attempts": 5,
    "backoff_seconds": 10,  # first retry after 10 s, then 20, 40, ...
    "backoff_max_seconds": 3600,
    "lease_seconds": 300,  # a task still processing after this was orphaned
    "batch_size": 5,
}
MANAGER_GROUP = "odoo_mcp_quotation.group_quotation_task_manager"
STALLED_AFTER = 5  # seconds a due task may wait before status requests wake the crons
# {database: time.monotonic() of this process's last wake-up of stalled work}
_last_wake_up = {}
CRON_LANES = (
    "odoo_mcp_quotation.ir_cron_process_quotation_tasks",
    "odoo_mcp_quotation.ir_cron_process_quotation_tasks_lane2",
)


class QuotationTask(models.Model):
    """A quotation asked for by an agent: durable, retried, processed by cron.

    The record owns its state machine: every state change goes through the
    ``_set_*`` methods below, and the claim query is the only way into
    ``processing``.
    """

    _name = "quotation.task"
    _description = "Quotation Task"
    _inherit = [
        "mail.thread",
        "quotation.queue.mixin",
        "quotation.engine.fields.mixin",
    ]
    _order = "id desc"
    _rec_name = "tracking_id"
    _mail_post_access = "read"  # sales staff discuss a task they may not change

    tracking_id = fields.Char(
        string="Tracking ID",
        required=True,
        readonly=True,
        copy=False,
        index=True,
        default=lambda self: secrets.token_hex(16),
        help="128 random bits given to the agent to follow the request.",
    )
    state = fields.Selection(
        STATES,
        default=PENDING,
        required=True,
        readonly=True,
        index=True,
        tracking=True,
        group_expand=True,  # the kanban shows every state, even an empty one
    )
    channel = fields.Selection(
        [("rest", "REST API"), ("mcp", "MCP"), ("ui", "Odoo UI")],
        default="ui",
        required=True,
        readonly=True,
        help="How the request reached Odoo.",
    )
    request_payload = fields.Json(string="Request as sent", readonly=True, copy=False)
    customer_name = fields.Char(required=True)
    email = fields.Char()
    phone = fields.Char()
    company_name = fields.Char()
    lang = fields.Char(string="Language")
    notes = fields.Text()
    line_ids = fields.One2many(
        "quotation.task.line", "task_id", string="Requested Lines", copy=True
    )
    idempotency_key = fields.Char(
        readonly=True,
        copy=False,
        help="The same key from the same user returns this task instead of a new one.",
    )
    requested_by_id = fields.Many2one(
        "res.users",
        required=True,
        readonly=True,
        default=lambda self: self.env.user,
        ondelete="restrict",
    )
    company_id = fields.Many2one(
        "res.company",
        required=True,
        readonly=True,
        default=lambda self: self.env.company,
        index=True,
    )
    # results
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    lead_id = fields.Many2one("crm.lead", string="Opportunity", readonly=True)
    sale_order_id = fields.Many2one("sale.order", string="Quotation", readonly=True)
    amount_total = fields.Monetary(string="Total", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    error = fields.Text(readonly=True, help="Why the last attempt failed.")
    # queue bookkeeping
    attempts = fields.Integer(readonly=True, default=0)
    max_attempts = fields.Integer(
        readonly=True,
        default=lambda self: self._queue_setting("max_attempts"),
    )
    next_attempt_at = fields.Datetime(readonly=True, copy=False)
    lease_until = fields.Datetime(readonly=True, copy=False)
    started_at = fields.Datetime(readonly=True, copy=False)
    done_at = fields.Datetime(readonly=True, copy=False)
    duration = fields.Float(
        string="Processing Time (s)",
        readonly=True,
        copy=False,
        aggregator="avg",
        help="Seconds from the start of the last attempt to its end.",
    )
    duration_p90 = fields.Float(
        string="Processing Time p90 (s)",
        compute="_compute_duration_p90",
        aggregator="p90",
        help="90th percentile of the processing time: 9 tasks in 10 were faster.",
    )
    request_payload_pretty = fields.Text(
        string="Request (JSON)", compute="_compute_request_payload_pretty"
    )
    # who follows the quotation, for "mine", grouping and record rules
    user_id = fields.Many2one(
        related="sale_order_id.user_id", string="Salesperson", store=True, index=True
    )
    team_id = fields.Many2one(
        related="sale_order_id.team_id", string="Sales Team", store=True
    )

    _sql_constraints = [
        ("tracking_id_uniq", "unique(tracking_id)", "The tracking ID must be unique."),
        (
            "idempotency_key_uniq",
            "unique(requested_by_id, idempotency_key)",
            "This idempotency key was already used by this user.",
        ),
    ]

    @api.constrains("tracking_id")
    def _check_tracking_id(self):
        """One format, so that a tracking id is safe in URLs, file names and keys."""
        for task in self:
            if not TRACKING_ID.fullmatch(task.tracking_id):
                raise ValidationError(
                    _("A tracking ID is 32 lower-case hexadecimal characters.")
                )

    @api.depends("duration")
    def _compute_duration_p90(self):
        """One task's p90 is its own time; groups get theirs from SQL."""
        for task in self:
            task.duration_p90 = task.duration

    @api.depends("request_payload")
    def _compute_request_payload_pretty(self):
        for task in self:
            task.request_payload_pretty = (
                json.dumps(task.request_payload, indent=2, ensure_ascii=False)
                if task.request_payload
                else False
            )

    @api.model
    def _read_group_select(self, aggregate_spec, query):
        """Aggregate ``duration_p90`` as PostgreSQL's 90th percentile of duration.

        Odoo knows no percentile aggregate; the graph and pivot views ask for
        ``duration_p90:p90`` like any measure and get it from here.
        """
        if aggregate_spec == "duration_p90:p90":
            duration = self._field_to_sql(self._table, "duration", query)
            return SQL("PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY %s)", duration)
        return super()._read_group_select(aggregate_spec, query)

    def init(self):
        create_index(
            self.env.cr,
            "quotation_task_due_idx",
            self._table,
            ["next_attempt_at", "id"],
            where="state = 'pending'",
        )

    # ------------------------------------------------------------------ CRUD
    @api.model_create_multi
    def create(self, vals_list):
        tasks = super().create(vals_list)
        tasks._audit("created")
        self._trigger_processing()
        return tasks

    @api.model
    def _create_from_request(self, request, channel, idempotency_key=None):
        """Create a task from a validated ``QuotationRequest`` (or find its twin).

        The same idempotency key from the same user returns the existing task,
        also when two identical requests race each other.
        """
        idempotency_key = idempotency_key or request.conversation_id
        if idempotency_key:
            existing = self._find_by_idempotency_key(idempotency_key)
            if existing:
                return existing
        vals = self._prepare_from_request(request, channel, idempotency_key)
        # the request's fields are engine fields: the service sets them as
        # superuser, once the caller's own right to create tasks is checked
        self.browse().check_access("create")
        # no "created" log nor follower for the API user: both cost a request
        # more than the task itself, and the chatter starts with the outcome
        quiet = self.sudo().with_context(
            mail_create_nolog=True, mail_create_nosubscribe=True
        )
        try:
            with self.env.cr.savepoint():
                return quiet.create(vals).with_env(self.env)
        except IntegrityError:
            existing = self._find_by_idempotency_key(idempotency_key)
            if not existing:
                raise
            return existing

    @api.model
    def _prepare_from_request(self, request, channel, idempotency_key):
        return {
            "channel": channel,
            "request_payload": request.model_dump(mode="json", exclude_none=True),
            "customer_name": request.customer_name,
            "email": request.email,
            "phone": request.phone,
            "company_name": request.company_name,
            "lang": request.lang,
            "notes": request.notes,
            "idempotency_key": idempotency_key,
            "line_ids": [
                fields.Command.create(
                    {
                        "sequence": index,
                        "product_ref": line.product,
                        "quantity": line.quantity,
                    }
                )
                for index, line in enumerate(request.lines, start=1)
            ],
        }

    @api.model
    def _find_by_idempotency_key(self, key):
        return self.search(
            [("requested_by_id", "=", self.env.uid), ("idempotency_key", "=", key)],
            limit=1,
        )

    # ------------------------------------------------------------------ actions
    def action_retry(self):
        """Put failed or cancelled tasks back in the queue with fresh attempts."""
        self.check_access("write")
        if self.filtered(lambda task: task.state not in (FAILED, CANCELLED)):
            raise UserError(_("Only failed or cancelled tasks can be retried."))
        self._set_pending(reset_attempts=True)
        self._audit("retried")
        self.message_post(body=_("Retry requested by %s.", self.env.user.name))
        self._trigger_processing()
        return True

    def action_cancel(self):
        self.check_access("write")
        if self.filtered(lambda task: task.state != PENDING):
            raise UserError(_("Only pending tasks can be cancelled."))
        self._set_cancelled()
        return True

    def action_open_quotation(self):
        self.ensure_one()
        if not self.sale_order_id:
            raise UserError(_("This request has no quotation yet."))
        return {
            "type": "ir.actions.act_window",
            "res_model": "sale.order",
            "res_id": self.sale_order_id.id,
            "views": [(False, "form")],
        }

    def _action_open_tasks(self, name):
        """These tasks in the task views: the smart buttons' target."""
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "odoo_mcp_quotation.action_quotation_task"
        )
        action.update(name=name, domain=[("id", "in", self.ids)], context={})
        if len(self) == 1:
            action.update(res_id=self.id, views=[(False, "form")])
        return action

    def _check_lines_addable(self):
        """Lines go to one's own pending requests; managers correct any request."""
        if self.env.user.has_group(MANAGER_GROUP):
            return
        for task in self.sudo():
            if task.requested_by_id != self.env.user or task.state != PENDING:
                raise AccessError(
                    _("Lines can only be added to your own pending requests.")
                )

    # ------------------------------------------------------------------ state machine
    def _write_engine_fields(self, vals):
        """The one door to the engine fields: the state machine's writes."""
        return self.sudo().write(vals)

    def _set_pending(self, reset_attempts=False, delay=None):
        vals = {
            "state": PENDING,
            "lease_until": False,
            "next_attempt_at": fields.Datetime.now() + delay if delay else False,
        }
        if reset_attempts:
            vals.update(
                attempts=0,
                error=False,
                max_attempts=self._queue_setting("max_attempts"),
            )
        self._write_engine_fields(vals)

    def _set_processing(self):
        lease_until = fields.Datetime.now() + self._lease()
        for task in self:
            task._write_engine_fields(
                {
                    "state": PROCESSING,
                    "attempts": task.attempts + 1,
                    "lease_until": lease_until,
                    "next_attempt_at": False,
                }
            )

    def _start_attempt(self, attempt):
        """Hold this claimed task for its attempt and stamp when the attempt began.

        A claimed task waits for its turn in the batch; if its lease ran out
        meanwhile, another worker took it back and ``attempt`` is no longer
        the current one: then it is not ours to build (False). The row stays
        locked until the attempt commits, so an expiring lease can never hand
        a task being built to a second worker. ``started_at`` is the database
        clock now (as ``create_date`` comes from the database), with
        microseconds: the wait from creation to start is exact.
        """
        self.ensure_one()
        self.flush_recordset()
        try:
            with self.env.cr.savepoint():
                self.env.cr.execute(
                    """
                    SELECT clock_timestamp() AT TIME ZONE 'UTC' FROM quotation_task
                     WHERE id = %s AND state = %s AND attempts = %s
                       FOR UPDATE SKIP LOCKED
                    """,
                    [self.id, PROCESSING, attempt],
                )
                row = self.env.cr.fetchone()
        except SerializationFailure:  # changed by another worker since our snapshot
            row = None
        if not row:
            self.invalidate_recordset()
            return False
        self._write_engine_fields(
            {"started_at": row[0], "lease_until": row[0] + self._lease()}
        )
        return True

    def _set_done(self, results):
        now = self._clock()
        self._write_engine_fields(
            dict(
                results,
                state=DONE,
                error=False,
                done_at=now,
                lease_until=False,
                duration=self._attempt_duration(now),
            )
        )
        self._audit("done")

    def _set_failed(self, error):
        now = self._clock()
        self._write_engine_fields(
            {
                "state": FAILED,
                "error": error,
                "done_at": now,
                "lease_until": False,
                "duration": self._attempt_duration(now),
            }
        )
        self._audit("failed")

    def _attempt_duration(self, now):
        return (now - self.started_at).total_seconds() if self.started_at else 0.0

    @api.model
    def _clock(self):
        """The database's clock now, with microseconds, in UTC.

        ``fields.Datetime.now()`` drops the microseconds and ``create_date`` is
        the transaction's start: neither times an attempt of milliseconds.
        """
        self.env.cr.execute("SELECT clock_timestamp() AT TIME ZONE 'UTC'")
        return self.env.cr.fetchone()[0]

    def _set_cancelled(self):
        self._write_engine_fields(
            {"state": CANCELLED, "lease_until": False, "next_attempt_at": False}
        )
        self._audit("cancelled")

    def _record_failed_attempt(self, error, retryable):
        """Schedule a retry with exponential backoff, or fail for good."""
        self.ensure_one()
        if retryable and self.attempts < self.max_attempts:
            delay = self._backoff(self.attempts)
            self._write_engine_fields({"error": error})
            self._set_pending(delay=delay)
            self._trigger_processing(at=self.next_attempt_at)
            self.message_post(
                body=_(
                    "Attempt %(attempt)s of %(max)s failed: %(error)s "
                    "Next try in %(delay)s s.",
                    attempt=self.attempts,
                    max=self.max_attempts,
                    error=error,
                    delay=int(delay.total_seconds()),
                )
            )
        else:
            self._set_failed(error)
            self.message_post(body=_("The quotation could not be created: %s", error))

    @api.model
    def _lease(self):
        return timedelta(seconds=self._queue_setting("lease_seconds"))

    @api.model
    def _backoff(self, attempts):
        base = self._queue_setting("backoff_seconds")
        ceiling = self._queue_setting("backoff_max_seconds")
        return timedelta(seconds=min(ceiling, base * 2 ** max(attempts - 1, 0)))

    # ------------------------------------------------------------------ queue
    @api.model
    def _queue_setting(self, key):
        value = self.env["ir.config_parameter"].sudo().get_param(PARAM_PREFIX + key)
        try:
            return int(value) if value else DEFAULTS[key]
        except ValueError:
            return DEFAULTS[key]

    @api.model
    def _trigger_processing(self, at=None, all_lanes=False):
        """Wake a cron worker now (or ``at``) rather than at its next interval.

        One lane is enough for a new task; a lane that finds more work than its
        batch wakes the others. As ``ir.cron._trigger`` does, a trigger row
        makes the lane due and a NOTIFY after commit wakes the cron workers,
        here on a kept-open connection instead of a new one per request.
        """
        now = fields.Datetime.now()
        at = at or now
        lanes = self.env["ir.cron"]
        for xmlid in CRON_LANES if all_lanes else CRON_LANES[:1]:
            lanes |= self.env.ref(xmlid, raise_if_not_found=False) or lanes
        lanes = lanes.sudo().filtered("active")
        if not lanes:
            return
        self.env["ir.cron.trigger"].sudo().create(
            [{"cron_id": lane.id, "call_at": at} for lane in lanes]
        )
        if at <= now:
            self.env.cr.postcommit.add(partial(wake_cron_workers, self.env.cr.dbname))

    @api.model
    def _wake_if_stalled(self, due_since):
        """Wake the cron workers when a task has been due for a while.

        After a restart, Odoo's cron workers sleep until their first poll
        (about a minute) before they look at work queued while they were down;
        a status request or a load balancer's health check wakes them instead,
        at most once per ``STALLED_AFTER`` seconds and process: polling callers
        do not each write a cron trigger.
        """
        if not due_since or due_since >= fields.Datetime.now() - timedelta(
            seconds=STALLED_AFTER
        ):
            return
        last = _last_wake_up.get(self.env.cr.dbname)
        if last is not None and time.monotonic() - last < STALLED_AFTER:
            return
        _last_wake_up[self.env.cr.dbname] = time.monotonic()
        self._trigger_processing()

    @api.model
    def _queue_health_figures(self):
        """The queue's figures for a health check (``services/health.py``),
        which is also the first sign of life after a restart: a stalled queue
        is woken. Runs as whoever asks, even nobody (a load balancer); its one
        write, the cron trigger, is sudo'ed where it is made."""
        figures = queue_figures(self.env.cr)
        self._wake_if_stalled(figures[-1])
        return figures

    def _due_since(self):
        """Since when a worker should have taken this task, if it waits for one.

        A pending task is due from its next attempt (or creation); a task still
        processing after its lease lost its worker and is due to be resumed.
        """
        self.ensure_one()
        if self.state == PENDING:
            return self.next_attempt_at or self.create_date
        if self.state == PROCESSING:
            return self.lease_until
        return False

    @api.model
    def _claim_due_tasks(self, limit):
        """Take up to ``limit`` due tasks that no other worker holds."""
        tasks = self._lock_due(limit)
        tasks._set_processing()
        return tasks

    @api.model
    def _requeue_expired_leases(self):
        """Give back tasks whose worker died: they resume without duplicates."""
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT id FROM quotation_task
             WHERE state = 'processing' AND lease_until < %s
               FOR UPDATE SKIP LOCKED
            """,
            [fields.Datetime.now()],
        )
        orphans = self.browse(row[0] for row in self.env.cr.fetchall())
        for task in orphans:
            _logger.warning(
                "Quotation task %s: lease expired, requeued", task.tracking_id
            )
            task._record_failed_attempt(
                _("The worker processing this task stopped before it finished."),
                retryable=True,
            )
        return orphans

    @api.model
    def _cron_process_tasks(self):
        self._process_due_tasks(commit=True)

    @api.model
    def _process_due_tasks(self, commit=False, limit=None):
        """Claim a batch of due tasks and process each in its own transaction.

        With ``commit`` (the cron) this loop owns the transaction, as queue_job's
        runner does: it commits the claim, then each task, so one bad task never
        rolls back another and a claimed task is visible as processing at once.
        Tests call it without ``commit``; a savepoint then isolates each task.
        """
        if commit:
            self._begin_claim_transaction()
        self._requeue_expired_leases()
        tasks = self._claim_due_tasks(limit or self._queue_setting("batch_size"))
        claimed_attempts = {task.id: task.attempts for task in tasks}
        if tasks and self.search_count(self._due_domain(), limit=1):
            self._trigger_processing(all_lanes=True)  # more than a batch: call for help
        if commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit
        for task in tasks:
            if task._start_attempt(claimed_attempts[task.id]):
                task._process()
            if commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit
        remaining = self.search_count(self._due_domain())
        self.env["ir.cron"]._notify_progress(done=len(tasks), remaining=remaining)
        return tasks

    @api.model
    def _begin_claim_transaction(self):
        """End the current transaction and start a READ COMMITTED one.

        Under Odoo's REPEATABLE READ, locking a row that another worker claimed
        after our snapshot was taken raises a serialization error; under READ
        COMMITTED, ``SKIP LOCKED`` re-reads the row and simply passes it by.
        """
        self.env.cr.commit()  # pylint: disable=invalid-commit
        self.env.cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")

    def _process(self):
        """Build the quotation; never raise, so the cron is never deactivated."""
        self.ensure_one()
        # built as the requesting user: their access rights and companies apply
        as_requester = self.with_user(self.requested_by_id).with_company(
            self.company_id
        )
        try:
            with self.env.cr.savepoint():
                results = QuotationBuilder(as_requester.env).build(as_requester)
                self._set_done(results)
        except QuotationBuildError as error:
            self._record_failed_attempt(str(error), retryable=False)
        except QuotationRetryLater as error:
            self._record_failed_attempt(str(error), retryable=True)
        except Exception as error:
            _logger.exception("Quotation task %s: attempt failed", self.tracking_id)
            self._record_failed_attempt(
                _(
                    "Unexpected error (%(type)s): %(error)s",
                    type=type(error).__name__,
                    error=error,
                ),
                retryable=True,
            )
        else:
            self.message_post(body=_("Quotation %s created.", self.sale_order_id.name))

    # ------------------------------------------------------------------ audit log
    def _audit(self, event):
        """Queue the audit document of this change in the same transaction."""
        self.env["quotation.audit.entry"]._record(self, event)

    def _prepare_audit_document(self, event, occurred_at, actor):
        """The audit document of ``event`` for this task (layout in
        docs/audit-log.md), as ``sale.order._prepare_invoice`` prepares its
        invoice: the audit entry stores it as it is. No secrets."""
        self.ensure_one()
        finished = self.done_at if self.state in (DONE, FAILED) else None
        document = {
            **self.env["quotation.audit.entry"]._prepare_envelope(
                event, occurred_at, self.tracking_id, self.company_id, actor
            ),
            "state": self.state,
            "channel": self.channel,
            "requested_by": audit_user(self.requested_by_id),
            "idempotency_key": self.idempotency_key or None,
            "request": self.request_payload or self._prepare_audit_request(),
            "timestamps": {
                "created_at": audit_time(self.create_date),
                "started_at": audit_time(self.started_at),
                "finished_at": audit_time(finished),
            },
            "processing": {
                "attempts": self.attempts,
                "max_attempts": self.max_attempts,
                "last_attempt_seconds": round(self.duration, 3)
                if self.started_at
                else None,
                "total_seconds": round((finished - self.create_date).total_seconds(), 3)
                if finished
                else None,
            },
        }
        if event == "done":
            document["outcome"] = self._prepare_audit_outcome()
        elif event == "failed":
            document["outcome"] = {"error": self.error}
        return document

    def _prepare_audit_request(self):
        """A task typed in Odoo has no payload: describe it from its fields."""
        request = {
            "customer_name": self.customer_name,
            "email": self.email,
            "phone": self.phone,
            "company_name": self.company_name,
            "lang": self.lang,
            "notes": self.notes,
            "lines": [
                {"product": line.product_ref, "quantity": line.quantity}
                for line in self.line_ids
            ],
        }
        return {name: value for name, value in request.items() if value}

    def _prepare_audit_outcome(self):
        partner, lead, order = self.partner_id, self.lead_id, self.sale_order_id
        return {
            "customer": {
                "id": partner.id,
                "name": partner.name,
                "email": partner.email or None,
                "phone": partner.phone or None,
                "company": partner.parent_id.name or None,
            },
            "opportunity": {"id": lead.id, "name": lead.name},
            "quotation": {
                "id": order.id,
                "reference": order.name,
                "state": order.state,
                "currency": order.currency_id.name,
                "amount_untaxed": order.amount_untaxed,
                "amount_tax": order.amount_tax,
                "amount_total": order.amount_total,
                "lines": [
                    {
                        "product": {
                            "id": line.product_id,
                            "reference": line.product_reference,
                            "name": line.product,
                        },
                        "quantity": line.quantity,
                        "unit_price": line.unit_price,
                        "discount": line.discount,
                        "subtotal": line.subtotal,
                    }
                    for line in quotation_lines(order)
                ],
            },
        }
