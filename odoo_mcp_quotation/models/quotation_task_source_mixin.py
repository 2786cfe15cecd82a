from odoo import api, fields, models


class QuotationTaskSourceMixin(models.AbstractModel):
    """The smart button that leads from a record back to its AI requests.

    Quotations, opportunities and customers each name the ``quotation.task``
    field that points to them in ``_quotation_task_field``. The two helpers
    below count and open any related records, for other smart buttons too.
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
        counts = self._count_related("quotation.task", self._quotation_task_field)
        for record in self:
            record.quotation_task_count = counts.get(record, 0)

    def _quotation_task_domain(self):
        return [(self._quotation_task_field, "in", self.ids)]

    def action_view_quotation_tasks(self):
        tasks = self.env["quotation.task"].search(self._quotation_task_domain())
        return self._action_open_related(
            tasks, "odoo_mcp_quotation.action_quotation_task", self.env._("AI Requests")
        )

    def _count_related(self, model, field):
        """``{record: count}`` of the ``model`` rows whose ``field`` is one of these."""
        return dict(
            self.env[model]._read_group([(field, "in", self.ids)], [field], ["__count"])
        )

    @api.model
    def _action_open_related(self, related, xmlid, name=None):
        """The window action ``xmlid`` on ``related`` only: a smart button's target."""
        action = self.env["ir.actions.act_window"]._for_xml_id(xmlid)
        action.update(domain=[("id", "in", related.ids)], context={})
        if name:
            action["name"] = name
        if len(related) == 1:
            action.update(res_id=related.id, views=[(False, "form")])
        return action
