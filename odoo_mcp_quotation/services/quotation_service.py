"""What REST, MCP and the UI do with quotations: one implementation for all.

Controllers and MCP tools translate their protocol to these calls and back;
they never search or write the ORM themselves.
"""

from odoo.exceptions import MissingError

from . import agent_messages as messages
from .request_schema import parse_request

STATE_MESSAGES = {
    "pending": messages.PENDING,
    "processing": messages.PROCESSING,
    "cancelled": messages.CANCELLED,
}


class QuotationService:
    def __init__(self, env):
        self.env = env
        self.tasks = env["quotation.task"]

    def submit(self, payload, channel, idempotency_key=None):
        """Validate and queue a request; RequestInvalid lists every problem."""
        request = parse_request(payload)
        return self.tasks._create_from_request(request, channel, idempotency_key)

    def find_task(self, tracking_id):
        """The caller's own task, or MissingError: others' tasks do not exist."""
        task = self.tasks.search(
            [
                ("tracking_id", "=", tracking_id or ""),
                ("requested_by_id", "=", self.env.uid),
            ],
            limit=1,
        )
        if not task:
            raise MissingError(messages.say(messages.NOT_FOUND, self.env.lang))
        return task

    def status(self, tracking_id):
        task = self.find_task(tracking_id)
        if task.state == "pending":
            self.tasks._wake_if_stalled(task.next_attempt_at or task.create_date)
        return self.summary(task)

    def queued(self, task, status_url):
        """The answer to a new request, in the request's language."""
        return {
            "tracking_id": task.tracking_id,
            "status": task.state,
            "status_url": status_url,
            "message": messages.say(messages.QUEUED, self._lang(task)),
        }

    def summary(self, task):
        """The task as agents see it: state, and the quotation once it exists."""
        order = task.sale_order_id
        summary = {
            "tracking_id": task.tracking_id,
            "status": task.state,
            "message": self._state_message(task),
            "attempts": task.attempts,
            "created_at": task.create_date.isoformat() + "Z",
        }
        if order:
            summary.update(
                order_reference=order.name,
                total=order.amount_total,
                currency=order.currency_id.name,
                portal_url=order.get_base_url() + order.get_portal_url(),
            )
        if task.error:
            summary["error"] = task.error
        return summary

    def _lang(self, task):
        return task.lang or task.requested_by_id.lang

    def _state_message(self, task):
        lang = self._lang(task)
        if task.state == "done":
            order = task.sale_order_id
            return messages.say(
                messages.DONE,
                lang,
                reference=order.name,
                total=f"{order.amount_total:.2f}",
                currency=order.currency_id.name,
            )
        if task.state == "failed":
            return messages.say(messages.FAILED, lang, error=task.error)
        if task.state == "pending" and task.error:
            return messages.say(messages.RETRYING, lang)
        return messages.say(STATE_MESSAGES[task.state], lang)
