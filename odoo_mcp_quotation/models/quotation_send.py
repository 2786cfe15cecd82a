import logging
import smtplib

from odoo import api, fields, models
from odoo.exceptions import UserError

from odoo.addons.base.models.ir_mail_server import MailDeliveryException

from ..services.quotation_builder import QuotationBuilder
from .cron_queue_mixin import FAILED, PENDING, PROCESSING

CRON = "odoo_mcp_quotation.ir_cron_send_quotations"
SENT = "sent"

_logger = logging.getLogger(__name__)


class QuotationSend(models.Model):
    """One e-mail of a quotation to its customer: queued, tried, retried.

    Apart from the build, so that a report engine or mail server that fails
    never undoes a quotation once built: the quotation stays, this row keeps
    the error and the queue runner (``cron.queue.mixin``) tries again after
    its back-off. Each row is sent at most once: a success ends it.
    """

    _name = "quotation.send"
    _description = "Quotation E-mail"
    _inherit = ["cron.queue.mixin"]
    _order = "id desc"
    _rec_name = "order_id"
    _queue_crons = (CRON,)
    _queue_done_state = SENT

    state = fields.Selection(
        selection_add=[(SENT, "Sent"), (FAILED, "Failed")],
        ondelete=dict.fromkeys((SENT, FAILED), "cascade"),
    )
    order_id = fields.Many2one(
        "sale.order",
        string="Quotation",
        required=True,
        readonly=True,
        index=True,
        ondelete="cascade",
    )
    task_id = fields.Many2one(
        "quotation.task", readonly=True, index=True, ondelete="cascade"
    )
    requested_by_id = fields.Many2one("res.users", required=True, readonly=True)
    sent_at = fields.Datetime(readonly=True)

    @api.model
    def _queue_claimed(self, order, requester, task=None):
        """A send of ``order``, claimed at once by the caller, who tries it
        (:meth:`_attempt_claimed`) once its own transaction allows: nobody
        else takes it meanwhile, and if the caller dies the lease runs out
        and the cron retries it."""
        send = self.sudo().create(
            {
                "order_id": order.id,
                "task_id": task.id if task else False,
                "requested_by_id": requester.id,
            }
        )
        send._set_processing()
        return send

    def _attempt_claimed(self):
        """Try these claimed sends now, each in a savepoint: a failure is
        recorded and retried by the cron, never raised."""
        for send in self:
            if send._start_attempt(send.attempts):
                send._run_attempt()
        self._trigger_retries(self)

    def _write_engine_fields(self, vals):
        """Every state change shows on the task too, read with it by agents.

        Written only when it changes, so an attempt updates its task once:
        PostgreSQL re-checks the foreign keys of a row updated twice in one
        transaction, and a lead changed meanwhile (CRM's enrichment, right
        after a build) would then fail the commit of an attempt whose e-mail
        already went out, which the queue would send again.
        """
        res = super()._write_engine_fields(vals)
        for send in self.filtered("task_id"):
            task = send.task_id.sudo()
            shown = {
                "send_state": send._send_state(),
                "send_error": send.error or False,
            }
            if any(task[name] != value for name, value in shown.items()):
                task.write(shown)
        return res

    # ------------------------------------------------------------------ queue
    def _perform(self):
        """E-mail the quotation as its salesperson (else the requester)."""
        sender = self.order_id.user_id or self.requested_by_id
        as_sender = self.with_user(sender).env
        QuotationBuilder(as_sender)._send_quotation(self.order_id.with_env(as_sender))
        return {"sent_at": fields.Datetime.now()}

    def _describe_failure(self, error):
        if isinstance(error, UserError):  # the report engine missing, say
            return str(error.args[0]), True
        if isinstance(error, (MailDeliveryException, smtplib.SMTPException)):
            # the mail server down or refusing: to retry, not a bug to trace
            message = ": ".join(str(arg) for arg in error.args)
            _logger.warning(
                "%s %s: attempt %s failed: %s",
                self._description,
                self.display_name,
                self.attempts,
                message,
            )
            return message, True
        return super()._describe_failure(error)

    def _postpone(self, error):
        res = super()._postpone(error)
        order = self._staff_order()
        order.message_post(
            body=order.env._(
                "The quotation could not be e-mailed (attempt %(attempt)s): "
                "%(error)s It will be tried again.",
                attempt=self.attempts,
                error=error,
            ),
            subtype_xmlid="mail.mt_note",
        )
        return res

    def _set_failed(self, error):
        res = super()._set_failed(error)
        order = self._staff_order()
        order.message_post(
            body=order.env._("The quotation could not be e-mailed: %s", error),
            subtype_xmlid="mail.mt_note",
        )
        return res

    def _staff_order(self):
        """The quotation in its salesperson's language, for a note."""
        order = self.order_id.sudo()
        lang = order.user_id.lang or self.requested_by_id.lang or self.env.lang
        return order.with_context(lang=lang)

    def _send_state(self):
        """``to_send``, ``sent`` or ``failed``: what an agent is told."""
        self.ensure_one()
        if self.state in (PENDING, PROCESSING):
            return "to_send"
        return self.state
