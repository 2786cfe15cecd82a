from odoo import models


class SaleOrder(models.Model):
    _name = "sale.order"
    _inherit = ["sale.order", "quotation.task.source.mixin"]
    _quotation_task_field = "sale_order_id"

    def _fetch_with_currency(self, field_names):
        """Fetch ``field_names`` (stored columns) of these orders and the name
        of their currency into the cache, in one statement instead of two:
        a status answer shows both on every poll of an agent.

        The orders are found through ``_search``, so the caller's access
        rights and record rules apply as to any read: an order the caller may
        not see raises AccessError, as reading it would.
        """
        if not self:
            return
        currencies = self.env["res.currency"]
        currencies.check_access("read")
        names = ["currency_id", *field_names]
        self.check_field_access_rights("read", names)
        query = self.with_context(active_test=False)._search([("id", "in", self.ids)])
        currency = query.left_join(
            self._table, "currency_id", currencies._table, "id", "currency_id"
        )
        rows = self.env.execute_query(
            query.select(
                self._field_to_sql(self._table, "id"),
                currencies._field_to_sql(currency, "name"),
                *(self._field_to_sql(self._table, name, query) for name in names),
            )
        )
        fetched = self.browse([row[0] for row in rows])
        if fetched != self and (forbidden := (self - fetched).exists()):
            raise self.env["ir.rule"]._make_access_error("read", forbidden)
        if not rows:
            return
        _ids, currency_names, *columns = zip(*rows, strict=True)
        for name, values in zip(names, columns, strict=True):
            self.env.cache.insert_missing(fetched, self._fields[name], values)
        self.env.cache.insert_missing(
            currencies.browse(columns[0]), currencies._fields["name"], currency_names
        )
