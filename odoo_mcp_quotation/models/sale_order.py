from odoo import models


class SaleOrder(models.Model):
    _name = "sale.order"
    _inherit = ["sale.order", "quotation.task.source.mixin"]
    _quotation_task_field = "sale_order_id"
