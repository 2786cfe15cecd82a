import json
import logging
import secrets
import time
from datetime import timedelta

from psycopg2 import IntegrityError

from odoo import SUPERUSER_ID, _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.modules.registry import Registry
from odoo.tools import SQL
from odoo.tools.sql import create_index, drop_index, make_index_name

from .. import compat
from ..lib.request_schema import TRACKING_ID
from ..lib.settings import read_setting
from ..services.health import queue_figures
from ..services.quotation_builder import (
    QuotationBuilder,
    QuotationBuildError,
    QuotationRetryLater,
)
from ..services.quotation_service import quotation_lines
from .cron_queue_mixin import DONE, FAILED, PENDING, PROCESSING
from .quotation_audit_entry import audit_time, audit_user

_logger = logging.getLogger(__name__)

CANCELLED = "cancelled"

MANAGER_GROUP = "odoo_mcp_quotation.group_quotation_task_manager"
# In the context of a request answered through build_after_answer
# (controllers/build_after_answer.py): the tasks it creates wake no cron
# worker, as the worker that answers builds them, or wakes the crons itself.
WAKE_UP_DEFERRED = "quotation_wake_up_deferred"
STALLED_AFTER = 5  # seconds a due task may wait before status requests wake the crons
# {database: time.monotonic() of this process's last wake-up of stalled work}
_last_wake_up = {}
CRON_LANES = (
    "odoo_mcp_quotation.ir_cron_process_quotation_tasks",
    "odoo_mcp_quotation.ir_cron_process_quotation_tasks_lane2",
)


@compat.unique_constraints(
    ("tracking_id_uniq", "unique(tracking_id)", "The tracking ID must be unique."),
    (
        "idempotency_key_uniq",
        "unique(requested_by_id, idempotency_key)",
        "This idempotency key was already used by this user.",
    ),
)
class QuotationTask(models.Model):
    """A quotation asked for by an agent: durable, retried, processed by cron.

    The queue runner (``cron.queue.mixin``) claims, leases and retries
    it; the task adds its own states (done, failed, cancelled), the build as
    its work step, and what sales staff read of it in the chatter.
    """

    _name = "quotation.task"
    _description = "Quotation Task"
    _inherit = [
        "mail.thread",
        "cron.queue.mixin",
        "quotation.engine.fields.mixin",
    ]
    _order = "id desc"
    _rec_name = "tracking_id"
    _mail_post_access = "read"  # sales staff discuss a task they may not change
    _queue_crons = CRON_LANES

    tracking_id = fields.Char(
        string="Tracking ID",
        required=True,
        readonly=True,
        copy=False,
        default=lambda self: secrets.token_hex(16),
        help="128 random bits given to the agent to follow the request.",
    )
    state = fields.Selection(
        selection_add=[(DONE, "Done"), (FAILED, "Failed"), (CANCELLED, "Cancelled")],
        ondelete=dict.fromkeys((DONE, FAILED, CANCELLED), "cascade"),
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
        index=True,  # also looked up across users: a call's tasks (elevenlabs.call)
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
    send_ids = fields.One2many("quotation.send", "task_id", string="E-mails")
    send_state = fields.Selection(
        [("to_send", "To Send"), ("sent", "Sent"), ("failed", "Failed")],
        string="E-mail",
        readonly=True,
        copy=False,
        help="Whether the quotation was e-mailed to the customer (its last "
        "e-mail; set by quotation.send).",
    )
    send_error = fields.Text(string="E-mail Error", readonly=True, copy=False)
    amount_total = fields.Monetary(string="Total", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    # queue bookkeeping beyond the runner's
    max_attempts = fields.Integer(
        readonly=True,
        default=lambda self: self._queue_setting("max_attempts"),
    )
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
        """One index on the tracking id: its unique constraint's. And one on
        the request's ``conversation_id``, by which an ElevenLabs call finds
        its tasks (``elevenlabs.call._matching_tasks``).

        Databases made while the field had ``index=True`` also have a second,
        plain one, which Odoo keeps when the attribute goes: it is dropped
        here, on every upgrade, at no cost once gone.
        """
        res = super().init()
        drop_index(
            self.env.cr, make_index_name(self._table, "tracking_id"), self._table
        )
        create_index(
            self.env.cr,
            make_index_name(self._table, "conversation_id"),
            self._table,
            ["(request_payload->>'conversation_id')"],
        )
        return res

    # ------------------------------------------------------------------ CRUD
    @api.model_create_multi
    def create(self, vals_list):
        tasks = super().create(vals_list)
        tasks._audit("created")
        if not self.env.context.get(WAKE_UP_DEFERRED):
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

    @api.model
    def _search_fetch_with_orders(
        self, domain, field_names, order_field_names, limit=None
    ):
        """``search_fetch`` of the tasks' ``field_names``, then their
        quotations' ``order_field_names`` and currency names: an agent lists
        its tasks, or polls one of them, in three queries however many.

        The tasks are found as ``search_fetch`` finds them (the caller's
        rights and record rules); their quotations are read whoever owns them
        now: what a task made is part of what its requester may see.
        """
        tasks = self.search_fetch(domain, field_names, limit=limit)
        orders = tasks.sale_order_id.sudo()
        orders.fetch([*order_field_names, "currency_id"])
        orders.currency_id.fetch(["name"])
        return tasks

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

    def _check_lines_addable(self):
        """Lines go to one's own pending tasks; managers correct any task."""
        if self.env.user.has_group(MANAGER_GROUP):
            return
        for task in self.sudo():
            if task.requested_by_id != self.env.user or task.state != PENDING:
                raise AccessError(
                    _("Lines can only be added to your own pending requests.")
                )

    # ------------------------------------------------------------------ state machine
    def _write_engine_fields(self, vals):
        """The runner's door, tracking the change in the staff's language."""
        return super(QuotationTask, self._for_staff())._write_engine_fields(vals)

    def _for_staff(self):
        """These tasks in the language of the sales staff who read their chatter.

        The engine runs as a cron or as the agent's API user, in no language
        of its own: its notes and tracking values are written for the
        salesperson (else whoever asked), never in the customer's language.
        """
        staff = self[:1].user_id or self[:1].requested_by_id
        return self.with_context(lang=staff.lang or self.env.lang)

    def _set_pending(self, reset_attempts=False, delay=None):
        res = super()._set_pending(reset_attempts=reset_attempts, delay=delay)
        if reset_attempts:
            self._write_engine_fields(
                {"max_attempts": self._queue_setting("max_attempts")}
            )
        return res

    def _prepare_finish_values(self):
        now = self._clock()
        started = self.started_at
        return {
            "done_at": now,
            "duration": (now - started).total_seconds() if started else 0.0,
        }

    def _set_failed(self, error):
        res = super()._set_failed(error)
        staff = self._for_staff()
        staff.message_post(
            body=staff.env._("The quotation could not be created: %s", error)
        )
        return res

    def _set_cancelled(self):
        self._write_engine_fields(
            {"state": CANCELLED, "lease_until": False, "next_attempt_at": False}
        )
        self._audit("cancelled")

    def _postpone(self, error):
        res = super()._postpone(error)
        delay = int(self._backoff(self.attempts).total_seconds())
        staff = self._for_staff()
        staff.message_post(
            body=staff.env._(
                "Attempt %(attempt)s of %(max)s failed: %(error)s "
                "Next try in %(delay)s s.",
                attempt=self.attempts,
                max=self.max_attempts,
                error=error,
                delay=delay,
            )
        )
        return res

    def _max_attempts(self):
        return self.max_attempts

    # ------------------------------------------------------------------ queue
    @api.model
    def _queue_setting(self, key):
        return read_setting(self.env, key)

    @api.model
    def _wake_if_stalled(self, due_since):
        """Wake the cron workers when a task has been due for a while.

        After a restart, Odoo's cron workers sleep until their first poll
        (about a minute) before they look at work queued while they were down;
        a status request or a load balancer's health check wakes them instead,
        at most once per ``STALLED_AFTER`` seconds and process, and writes no
        trigger row while one is already due: polling callers do not flood
        the trigger table.
        """
        if not due_since or due_since >= fields.Datetime.now() - timedelta(
            seconds=STALLED_AFTER
        ):
            return
        last = _last_wake_up.get(self.env.cr.dbname)
        if last is not None and time.monotonic() - last < STALLED_AFTER:
            return
        _last_wake_up[self.env.cr.dbname] = time.monotonic()
        self._trigger_processing(once=True)

    @api.model
    def _queue_health_figures(self):
        """The queue's figures for a health check (``services/health.py``),
        which is also the first sign of life after a restart: a stalled queue
        is woken. Runs as whoever asks, even nobody (a load balancer); its one
        write, the cron trigger, is sudo'ed where it is made."""
        figures = queue_figures(self.env.cr)
        self._wake_if_stalled(figures[-1])
        return figures

    @api.model
    def _may_build_after_answer(self):
        """Whether the HTTP worker that just queued a request may build it
        itself after answering, instead of waiting for a cron worker to wake
        up: when nothing else waits in the queue (under load, HTTP workers
        keep answering and the crons build), unless switched off."""
        if not read_setting(self.env, "build_when_idle"):
            return False
        busy = compat.any_of([("state", "=", PROCESSING)], self._due_domain())
        return self.sudo().search_count(busy, limit=2) <= 1

    @api.model
    def _build_after_answer(self, dbname):
        """Take one due task as a cron would (the same claim, ``SKIP LOCKED``:
        whoever comes first builds it, once), in a transaction of its own;
        runs after the request's own has been committed and closed."""
        try:
            with Registry(dbname).cursor() as cr:
                tasks = api.Environment(cr, SUPERUSER_ID, {})[self._name]
                try:
                    tasks._process_due(commit=True, limit=1)
                except Exception:  # the answer is out: a cron worker takes it
                    _logger.exception("Building a quotation after the answer failed")
                    cr.rollback()
                    tasks._trigger_processing()
        except Exception:  # no database: the crons' own interval takes it
            _logger.exception("Building a quotation after the answer failed")

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
    def _process_due(self, commit=False, limit=None, only=None):
        """Build, then e-mail what was built: each e-mail after its build
        is committed, so that a failing send leaves the quotation built."""
        tasks = super()._process_due(commit=commit, limit=limit, only=only)
        for send in tasks.sudo().send_ids.filtered(lambda s: s.state == PROCESSING):
            send._attempt_claimed()
            if commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit
        return tasks

    @api.model
    def _cron_process_tasks(self):
        self._process_due(commit=True)

    def _perform(self):
        """Build the quotation as the requesting user: their rights and companies."""
        as_requester = self.with_user(self.requested_by_id).with_company(
            self.company_id
        )
        return QuotationBuilder(as_requester.env).build(as_requester)

    def _run_attempt(self):
        """Build; the note of a success follows the tracked change to done."""
        res = super()._run_attempt()
        for task in self.filtered(lambda task: task.state == DONE):
            staff = task._for_staff()
            staff.message_post(
                body=staff.env._("Quotation %s created.", task.sale_order_id.name)
            )
        return res

    def _describe_failure(self, error):
        if isinstance(error, QuotationBuildError):
            return str(error), False
        if isinstance(error, QuotationRetryLater):
            return str(error), True
        return super()._describe_failure(error)

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
