import logging
import os
import time
from datetime import timedelta
from functools import partial

from psycopg2 import InterfaceError, OperationalError
from psycopg2.errors import SerializationFailure

from odoo import _, api, fields, models
from odoo.tools import SQL
from odoo.tools.sql import create_index

from .. import compat
from ..lib.settings import read_setting
from ..services.cron_wakeup import wake_cron_workers

_logger = logging.getLogger(__name__)

PENDING = "pending"
PROCESSING = "processing"
DONE = "done"  # a queue may name it otherwise (_queue_done_state)
FAILED = "failed"
MAX_DOUBLINGS = 20  # past this, any ceiling is reached: keeps the number small
# how long a worker whose connection broke tries to hand its rows back
RELEASE_TRIES, RELEASE_PAUSE_SECONDS = 15, 1


def backoff_seconds(attempts, base, ceiling):
    """The wait after ``attempts`` tries: ``base``, doubling up to ``ceiling``."""
    return min(ceiling, base * 2 ** min(max(attempts - 1, 0), MAX_DOUBLINGS))


class CronQueueMixin(models.AbstractModel):
    """The one queue runner: rows a cron claims, works through and retries.

    As OCA ``queue_job`` splits a job's states from its runner, this mixin owns
    the shared fields, the claim (``SKIP LOCKED``, so any number of cron
    workers and Odoo servers never take the same row), the lease and the
    requeue of rows whose worker died, the back-off, every state change and
    the batch loop that owns the commits. A queue supplies its work step
    (``_perform``, or ``_run_attempt`` for a whole chunk), its settings
    (``_queue_setting``, by default the task queue's), its crons
    (``_queue_crons``, which call ``_cron_process``) and what a failure means
    (``_describe_failure``).
    """

    _name = "cron.queue.mixin"
    _description = "Queue Runner"
    _queue_crons = ()  # xmlids of the crons that work through this queue
    _queue_done_state = DONE
    _queue_chunk_size = 1  # rows per transaction: one, or the whole batch at once
    _queue_batch_size = 10  # rows a run claims, unless _queue_setting says otherwise

    state = fields.Selection(
        [(PENDING, "Pending"), (PROCESSING, "Processing")],
        default=PENDING,
        required=True,
        readonly=True,
        index=True,
    )
    attempts = fields.Integer(
        readonly=True, default=0, help="Attempts started, the current one included."
    )
    next_attempt_at = fields.Datetime(readonly=True, copy=False)
    lease_until = fields.Datetime(readonly=True, copy=False)
    started_at = fields.Datetime(readonly=True, copy=False)
    error = fields.Text(readonly=True, help="Why the last attempt failed.")

    def init(self):
        """The claim's index: due rows in order, pending ones only."""
        if not self._abstract:
            create_index(
                self.env.cr,
                f"{self._table}_due_idx",
                self._table,
                ["next_attempt_at", "id"],
                where="state = 'pending'",
            )

    # ------------------------------------------------------------------ settings
    @api.model
    def _queue_setting(self, key):
        """``batch_size``, ``max_attempts`` (0: no limit), ``backoff_seconds``,
        ``backoff_max_seconds`` or ``lease_seconds`` of this queue: by default
        the task queue's settings, in batches of ``_queue_batch_size``."""
        if key == "batch_size":
            return self._queue_batch_size
        return read_setting(self.env, key)

    def _max_attempts(self):
        return self._queue_setting("max_attempts")

    @api.model
    def _backoff(self, attempts):
        return timedelta(
            seconds=backoff_seconds(
                attempts,
                self._queue_setting("backoff_seconds"),
                self._queue_setting("backoff_max_seconds"),
            )
        )

    @api.model
    def _lease(self):
        return timedelta(seconds=self._queue_setting("lease_seconds"))

    @api.model
    def _clock(self):
        """The database's clock now, with microseconds, in UTC.

        ``fields.Datetime.now()`` drops the microseconds and ``create_date`` is
        the transaction's start: neither times an attempt of milliseconds.
        """
        self.env.cr.execute("SELECT clock_timestamp() AT TIME ZONE 'UTC'")
        return self.env.cr.fetchone()[0]

    # ------------------------------------------------------------------ states
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
            vals.update(attempts=0, error=False)
        return self._write_engine_fields(vals)

    def _set_processing(self):
        lease_until = fields.Datetime.now() + self._lease()
        for record in self:
            record._write_engine_fields(
                {
                    "state": PROCESSING,
                    "attempts": record.attempts + 1,
                    "lease_until": lease_until,
                    "next_attempt_at": False,
                }
            )

    def _start_attempt(self, attempt):
        """Hold this claimed row for its attempt and stamp when the attempt began.

        A claimed row waits for its turn in the batch; if its lease ran out
        meanwhile, another worker took it back and ``attempt`` is no longer
        the current one: then it is not ours to work on (False). The row stays
        locked until the attempt commits, so an expiring lease can never hand
        a row being worked on to a second worker. ``started_at`` is the
        database clock now (as ``create_date`` comes from the database), with
        microseconds: the wait from creation to start is exact.
        """
        self.ensure_one()
        self.flush_recordset()
        try:
            with self.env.cr.savepoint():
                self.env.cr.execute(
                    SQL(
                        """
                        SELECT clock_timestamp() AT TIME ZONE 'UTC' FROM %s
                         WHERE id = %s AND state = %s AND attempts = %s
                           FOR UPDATE SKIP LOCKED
                        """,
                        SQL.identifier(self._table),
                        self.id,
                        PROCESSING,
                        attempt,
                    )
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

    def _prepare_finish_values(self):
        """What a queue records when a row is done or failed for good."""
        return {}

    def _set_done(self, values=None):
        res = self._write_engine_fields(
            dict(
                values or {},
                state=self._queue_done_state,
                error=False,
                lease_until=False,
                **self._prepare_finish_values(),
            )
        )
        self._audit("done")
        return res

    def _set_failed(self, error):
        res = self._write_engine_fields(
            {
                "state": FAILED,
                "error": error,
                "lease_until": False,
                **self._prepare_finish_values(),
            }
        )
        self._audit("failed")
        return res

    def _audit(self, event):
        """Queue the audit document of a row's ``event``: a queue that has one."""

    def _postpone(self, error):
        """Back in the queue after this attempt's back-off."""
        self._write_engine_fields({"error": error})
        return self._set_pending(delay=self._backoff(self.attempts))

    def _record_failed_attempt(self, error, retryable=True):
        """Retry after the back-off while attempts remain, or fail for good."""
        self.ensure_one()
        max_attempts = self._max_attempts()
        if retryable and (not max_attempts or self.attempts < max_attempts):
            self._postpone(error)
        else:
            self._set_failed(error)

    # ------------------------------------------------------------------ claim
    @api.model
    def _due_domain(self):
        return [
            ("state", "=", PENDING),
            *compat.any_of(
                [("next_attempt_at", "=", False)],
                [("next_attempt_at", "<=", fields.Datetime.now())],
            ),
        ]

    @api.model
    def _lock_due(self, limit, only=None):
        """Lock and return up to ``limit`` due rows that no other worker holds
        (among the ids ``only``, if given)."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT id FROM %s
                 WHERE state = %s
                   AND (next_attempt_at IS NULL OR next_attempt_at <= %s)
                   %s
                 ORDER BY next_attempt_at NULLS FIRST, id
                 LIMIT %s
                   FOR UPDATE SKIP LOCKED
                """,
                SQL.identifier(self._table),
                PENDING,
                fields.Datetime.now(),
                SQL("AND id = ANY(%s)", list(only)) if only is not None else SQL(),
                limit,
            )
        )
        return self.browse(row[0] for row in self.env.cr.fetchall())

    @api.model
    def _claim_due(self, limit, only=None):
        """Take up to ``limit`` due rows that no other worker holds."""
        records = self._lock_due(limit, only)
        records._set_processing()
        return records

    @api.model
    def _requeue_stuck(self):
        """Give back rows whose worker died: they resume, as a failed attempt.

        What queue_job's ``requeue_stuck_jobs`` does, for rows whose lease ran
        out while they were processing.
        """
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT id FROM %s
                 WHERE state = %s AND lease_until < %s
                   FOR UPDATE SKIP LOCKED
                """,
                SQL.identifier(self._table),
                PROCESSING,
                fields.Datetime.now(),
            )
        )
        orphans = self.browse(row[0] for row in self.env.cr.fetchall())
        for record in orphans:
            _logger.warning(
                "%s %s: lease expired, requeued", self._description, record.display_name
            )
            record._record_failed_attempt(
                _("The worker processing this task stopped before it finished.")
            )
        self._trigger_retries(orphans)
        return orphans

    # ------------------------------------------------------------------ runner
    @api.model
    def _process_due(self, commit=False, limit=None, only=None):
        """Claim a batch of due rows (among the ids ``only``, if given) and
        work through it, chunk by chunk.

        With ``commit`` (the crons) this loop owns the transaction, as
        queue_job's runner does: it commits the claim, then each chunk, so one
        bad row never rolls back another and a claimed row is visible as
        processing at once. Without it (tests, or a cron whose batch is one
        transaction), a savepoint isolates each row and the row locks hold
        the batch until the caller commits.
        """
        if commit:
            self._begin_claim_transaction()
        self._requeue_stuck()
        records = self._claim_due(limit or self._queue_setting("batch_size"), only)
        claimed_attempts = {record.id: record.attempts for record in records}
        if (
            len(self._queue_crons) > 1
            and records
            and self.search_count(self._due_domain(), limit=1)
        ):
            self._trigger_processing(all_crons=True)  # more than a batch: call for help
        if commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit
        size = self._queue_chunk_size or len(records) or 1
        try:
            for start in range(0, len(records), size):
                chunk = records[start : start + size]
                started = chunk.filtered(
                    lambda record: record._start_attempt(claimed_attempts[record.id])
                )
                if started:
                    started._run_attempt()
                    self._trigger_retries(started)
                if commit:
                    self.env.cr.commit()  # pylint: disable=invalid-commit
        except (OperationalError, InterfaceError):
            if commit:
                self._release_after_lost_connection(records)
            raise
        compat.report_cron_progress(
            self.env, done=len(records), remaining=records._count_remaining()
        )
        return records

    @api.model
    def _cron_process(self):
        """What a queue's cron runs: one batch, committing as it goes."""
        return self._process_due(commit=True)

    @api.model
    def _release_after_lost_connection(self, records):
        """The connection broke mid-batch (PostgreSQL restarted, say): end the
        leases of the rows this worker still holds, on a new connection once
        the database answers again, so that the next run resumes them at once
        rather than when their lease runs out. Rows already finished, or
        taken back meanwhile, are left as they are."""
        for _try in range(RELEASE_TRIES):
            try:
                with self.env.registry.cursor() as cr:
                    cr.execute(
                        SQL(
                            "UPDATE %s SET lease_until = now() AT TIME ZONE 'UTC' "
                            "WHERE id IN %s AND state = %s",
                            SQL.identifier(self._table),
                            tuple(records.ids) or (0,),
                            PROCESSING,
                        )
                    )
                return
            except (OperationalError, InterfaceError):
                time.sleep(RELEASE_PAUSE_SECONDS)
        _logger.warning(
            "%s: could not hand back %s rows; they resume when their lease ends",
            self._description,
            len(records),
        )

    @api.model
    def _forget_done(self, days, since_field, limit=1000):
        """Delete up to ``limit`` rows done for more than ``days`` (by
        ``since_field``; 0 days keeps them forever): for queues whose work
        leaves its record elsewhere once done."""
        if days <= 0:
            return
        self.search(
            [
                ("state", "=", self._queue_done_state),
                (since_field, "<", fields.Datetime.now() - timedelta(days=days)),
            ],
            limit=limit,
        ).unlink()

    @api.model
    def _begin_claim_transaction(self):
        """End the current transaction and start a READ COMMITTED one.

        Under Odoo's REPEATABLE READ, locking a row that another worker claimed
        after our snapshot was taken raises a serialization error; under READ
        COMMITTED, ``SKIP LOCKED`` re-reads the row and simply passes it by.
        """
        self.env.cr.commit()  # pylint: disable=invalid-commit
        self.env.cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")

    def _count_remaining(self):
        """Due rows left after this batch: Odoo runs the cron again while any."""
        return self.search_count(self._due_domain())

    def _run_attempt(self):
        """Work on these started rows; never raise, so the cron is never deactivated."""
        for record in self:
            try:
                with self.env.cr.savepoint():
                    record._set_done(record._perform())
            except Exception as error:
                message, retryable = record._describe_failure(error)
                record._record_failed_attempt(message, retryable)

    def _perform(self):
        """This queue's work on one row: return the values to store when done."""
        raise NotImplementedError()

    def _describe_failure(self, error):
        """``(message, retryable)`` for an error raised by ``_perform``."""
        _logger.exception(
            "%s %s: attempt %s failed",
            self._description,
            self.display_name,
            self.attempts,
        )
        message = _(
            "Unexpected error (%(type)s): %(error)s",
            type=type(error).__name__,
            error=error,
        )
        return message, True

    # ------------------------------------------------------------------ wake-up
    @api.model
    def _trigger_processing(self, at=None, all_crons=False, once=False):
        """Make this queue's cron due now (or ``at``), as ``ir.cron._trigger`` does.

        One cron is enough for new work; a run that finds more than its batch
        wakes the others. Trigger rows and the NOTIFY after commit are those
        of ``_trigger`` (``test_cron_queue_mixin`` holds them equal), the
        NOTIFY on ``cron_wakeup``'s kept-open connection instead of a new one
        per call. ``once``: no second row for a cron that is already due, so
        callers polling a stalled queue do not pile up triggers.
        """
        now = fields.Datetime.now()
        at = at or now
        crons = self.env["ir.cron"]
        for xmlid in self._queue_crons if all_crons else self._queue_crons[:1]:
            crons |= self.env.ref(xmlid, raise_if_not_found=False) or crons
        crons = crons.sudo()
        if at <= now:  # as _trigger: a due trigger of an inactive cron is ignored
            crons = crons.filtered("active")
        if not crons:
            return
        Trigger = self.env["ir.cron.trigger"].sudo()
        due = crons.browse()
        if once:
            due = Trigger.search(
                [("cron_id", "in", crons.ids), ("call_at", "<=", now)]
            ).cron_id
        Trigger.create([{"cron_id": cron.id, "call_at": at} for cron in crons - due])
        if at <= now or os.getenv("ODOO_NOTIFY_CRON_CHANGES"):
            self.env.cr.postcommit.add(partial(wake_cron_workers, self.env.cr.dbname))

    @api.model
    def _trigger_retries(self, records):
        """Wake the cron when the earliest of ``records`` postponed is due again."""
        retry_at = [
            record.next_attempt_at
            for record in records
            if record.state == PENDING and record.next_attempt_at
        ]
        if retry_at:
            self._trigger_processing(at=min(retry_at))
