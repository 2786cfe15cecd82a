from odoo import fields, models


class QuotationTaskSourceMixin(models.AbstractModel):
    """The smart button that leads from a record back to its AI requests.

    Quotations, opportunities and customers each name the ``quotation.task``
    field that points to them in ``_quotation_task_field``.
    """

    _name = "quotation.task.source.mixin"
    _description = "Link to AI Quotation Requests"
    _quotation_task_field = None

    quotation_task_count = fields.Integer(
        string="AI Requests",
        compute="_compute_quotation_task_count",
        groups="odoo_mcp_quotation.group_quotation_task_user",
    )

    def _compute_quotation_task_count(self):
        field = self._quotation_task_field
        counts = dict(
            self.env["quotation.task"]._read_group(
                [(field, "in", self.ids)], [field], ["__count"]
            )
        )
        for record in self:
            record.quotation_task_count = counts.get(record, 0)

    def _quotation_task_domain(self):
        return [(self._quotation_task_field, "in", self.ids)]

    def action_view_quotation_tasks(self):
        tasks = self.env["quotation.task"].search(self._quotation_task_domain())
        return tasks._action_open_tasks(self.env._("AI Requests"))
