"""What REST, MCP and the UI do with quotations: one implementation for all.

Controllers and MCP tools translate their protocol to these calls and back;
they never search or write the ORM themselves.
"""

from odoo.exceptions import MissingError

from .request_schema import parse_request


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
            raise MissingError(
                self.env._("No quotation request with tracking id %s.", tracking_id)
            )
        return task

    def status(self, tracking_id):
        return self.summary(self.find_task(tracking_id))

    def summary(self, task):
        """The task as agents see it: state, and the quotation once it exists."""
        order = task.sale_order_id
        summary = {
            "tracking_id": task.tracking_id,
            "status": task.state,
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
