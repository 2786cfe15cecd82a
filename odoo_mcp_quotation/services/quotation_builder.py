"""Turn a quotation task into a customer, an opportunity and a draft quotation.

All in the ORM, in the caller's transaction, as the requesting user. Each step
first looks for what it would create, so a task resumed after a crash or a
retry finds what it already made instead of making it twice.
"""

import zlib

from odoo import Command, _
from odoo.tools import email_normalize

CHANNEL_MEDIUMS = {
    "rest": "odoo_mcp_quotation.utm_medium_voice_agent",
    "mcp": "odoo_mcp_quotation.utm_medium_mcp",
}
AMBIGUOUS_SHOWN = 5


class QuotationBuildError(Exception):
    """A problem in the request itself: retrying will not help, a person must."""


class QuotationRetryLater(Exception):
    """A passing condition (a busy lock): the next attempt should succeed."""


def _like_escape(value):
    return value.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")


class QuotationBuilder:
    def __init__(self, env):
        self.env = env

    def build(self, task):
        """Return the result values to write on the task."""
        products = self._resolve_products(task.line_ids)
        partner = task.partner_id or self._find_or_create_customer(task)
        lead = task.lead_id or self._create_opportunity(task, partner)
        order = task.sale_order_id or self._create_order(task, partner, lead, products)
        return {
            "line_ids": [
                Command.update(line.id, {"product_id": product.id})
                for line, product in products.items()
            ],
            "partner_id": partner.id,
            "lead_id": lead.id,
            "sale_order_id": order.id,
            "amount_total": order.amount_total,
            "currency_id": order.currency_id.id,
        }

    # ------------------------------------------------------------------ products
    def _resolve_products(self, lines):
        """Resolve every line or fail naming each one that could not be resolved."""
        problems = []
        resolved = {}
        for index, line in enumerate(lines, start=1):
            matches = self._match_product(line.product_ref)
            if len(matches) == 1:
                resolved[line] = matches
                continue
            if not matches:
                problems.append(
                    _(
                        'line %(index)s ("%(ref)s"): no product matches.',
                        index=index,
                        ref=line.product_ref,
                    )
                )
            else:
                names = ", ".join(matches[:AMBIGUOUS_SHOWN].mapped("display_name"))
                problems.append(
                    _(
                        'line %(index)s ("%(ref)s"): %(count)s products match '
                        "(%(names)s); "
                        "give the internal reference.",
                        index=index,
                        ref=line.product_ref,
                        count=len(matches),
                        names=names,
                    )
                )
        if problems:
            raise QuotationBuildError(
                _("Some products could not be identified: %s", " ".join(problems))
            )
        return resolved

    def _match_product(self, reference):
        """Reference, barcode, exact name, then a unique case-insensitive match.

        Returns the first stage's matches that found anything: one record is a
        match, several are ambiguous.
        """
        Product = self.env["product.product"]
        escaped = _like_escape(reference)
        stages = [
            [("default_code", "=", reference)],
            [("barcode", "=", reference)],
            [("name", "=", reference)],
            ["|", ("default_code", "=ilike", escaped), ("name", "=ilike", escaped)],
            [("name", "ilike", reference)],
        ]
        for domain in stages:
            matches = Product.search(
                [("sale_ok", "=", True), *domain], limit=AMBIGUOUS_SHOWN + 1
            )
            if matches:
                return matches
        return Product

    # ------------------------------------------------------------------ customer
    def _find_or_create_customer(self, task):
        Partner = self.env["res.partner"]
        normalized = email_normalize(task.email) if task.email else False
        if normalized:
            self._lock_customer(normalized)
            partner = Partner.search(
                [("email_normalized", "=", normalized)], order="is_company, id", limit=1
            )
            if partner:
                return partner
        if task.phone:
            partner = Partner.search(
                [("phone_mobile_search", "=", task.phone)],
                order="is_company, id",
                limit=1,
            )
            if partner:
                return partner
        return Partner.create(self._prepare_customer_values(task))

    def _lock_customer(self, normalized_email):
        """Serialise the creation of one customer across concurrent workers.

        Under Odoo's REPEATABLE READ a waiting transaction could not see the
        partner the other one commits, so a busy lock means "retry shortly".
        """
        key = zlib.crc32(f"odoo_mcp_quotation.customer:{normalized_email}".encode())
        self.env.cr.execute("SELECT pg_try_advisory_xact_lock(%s)", [key])
        if not self.env.cr.fetchone()[0]:
            raise QuotationRetryLater(
                _("Another request is creating the same customer right now.")
            )

    def _prepare_customer_values(self, task):
        values = {
            "name": task.customer_name,
            "email": task.email or False,
            "phone": task.phone or False,
            "customer_rank": 1,
            "company_id": False,
        }
        lang = self._installed_lang(task.lang)
        if lang:
            values["lang"] = lang
        if task.company_name:
            values["parent_id"] = self._find_or_create_company(task.company_name).id
        return values

    def _find_or_create_company(self, name):
        Partner = self.env["res.partner"]
        company = Partner.search(
            [("is_company", "=", True), ("name", "=ilike", _like_escape(name))], limit=1
        )
        return company or Partner.create({"name": name, "is_company": True})

    def _installed_lang(self, code):
        """Map ``es`` or ``es-ES`` to an active language code such as ``es_ES``."""
        if not code:
            return False
        code = code.replace("-", "_")
        installed = [lang for lang, _name in self.env["res.lang"].get_installed()]
        if code in installed:
            return code
        prefix = code.split("_")[0].lower() + "_"
        return next(
            (lang for lang in installed if lang.lower().startswith(prefix)), False
        )

    # ------------------------------------------------------------------ CRM and sale
    def _utm_values(self, task):
        medium = self.env.ref(
            CHANNEL_MEDIUMS.get(task.channel, "utm.utm_medium_website"),
            raise_if_not_found=False,
        )
        source = self.env.ref(
            "odoo_mcp_quotation.utm_source_ai_agent", raise_if_not_found=False
        )
        return {
            "source_id": source.id if source else False,
            "medium_id": medium.id if medium else False,
        }

    def _create_opportunity(self, task, partner):
        values = {
            "type": "opportunity",
            "name": _("Quotation request: %s", task.customer_name),
            "partner_id": partner.id,
            "email_from": task.email or partner.email,
            "phone": task.phone or partner.phone,
            "description": task.notes or False,
            "company_id": task.company_id.id,
            **self._utm_values(task),
        }
        return self.env["crm.lead"].create(values)

    def _create_order(self, task, partner, lead, products):
        values = {
            "partner_id": partner.id,
            "opportunity_id": lead.id,
            "company_id": task.company_id.id,
            "origin": task.tracking_id,
            "team_id": lead.team_id.id or False,
            "order_line": [
                Command.create(
                    {"product_id": product.id, "product_uom_qty": line.quantity}
                )
                for line, product in products.items()
            ],
            **self._utm_values(task),
        }
        order = self.env["sale.order"].create(values)
        order._portal_ensure_token()  # the status answer links to it without writing
        return order
