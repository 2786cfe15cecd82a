"""Turn a quotation task into a customer, an opportunity and a draft quotation.

All in the ORM, in the caller's transaction, as the requesting user. Each step
first looks for what it would create, so a task resumed after a crash or a
retry finds what it already made instead of making it twice.
"""

import zlib

from odoo import Command, _
from odoo.exceptions import UserError
from odoo.tools import email_normalize, escape_psql

from .. import compat
from ..lib.settings import read_setting

CHANNEL_MEDIUMS = {
    "rest": "odoo_mcp_quotation.utm_medium_voice_agent",
    "mcp": "odoo_mcp_quotation.utm_medium_mcp",
}
AMBIGUOUS_SHOWN = 5
QUOTATION_EMAIL_LAYOUT = "mail.mail_notification_layout_with_responsible_signature"


class QuotationBuildError(Exception):
    """A problem in the request itself: retrying will not help, a person must."""


class QuotationRetryLater(Exception):
    """A passing condition (a busy lock): the next attempt should succeed."""


class QuotationBuilder:
    def __init__(self, env):
        self.env = env

    def build(self, task):
        """Return the result values to write on the task."""
        products = self._resolve_products(task.line_ids)
        partner = task.partner_id or self._find_or_create_customer(task)
        lead = task.lead_id or self._create_opportunity(task, partner)
        order = task.sale_order_id
        if not order:
            order = self._create_order(task, partner, lead, products)
            self._assign_salesperson((lead, order), task, partner)
            if read_setting(self.env, "send_quotation_email") and partner.email:
                # e-mailed once the build is committed: a failing send never
                # undoes the quotation (quotation.send)
                self.env["quotation.send"]._queue_claimed(
                    order, task.requested_by_id, task
                )
        # handed over, the order may be beyond the requester's reach (own
        # documents only): the engine reads back what it made, never as them
        order = order.sudo()
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
            matches = self.match_product(line.product_ref)
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

    def match_product(self, reference):
        """Reference, barcode, exact name, then a unique case-insensitive match.

        Returns the first stage's matches that found anything: one record is a
        match, several are ambiguous.
        """
        Product = self.env["product.product"]
        escaped = escape_psql(reference)
        stages = [
            [("default_code", "=", reference)],
            [("barcode", "=", reference)],
            [("name", "=", reference)],
            compat.any_of(
                [("default_code", "=ilike", escaped)], [("name", "=ilike", escaped)]
            ),
            [("name", "ilike", reference)],
        ]
        for domain in stages:
            matches = Product.search(
                [("sale_ok", "=", True), *domain], limit=AMBIGUOUS_SHOWN + 1
            )
            if matches:
                return matches
        return Product

    def similar_products(self, reference):
        """Sellable products with any word of an unmatched reference in their
        name: what the requester may have meant."""
        words = [word for word in reference.split() if len(word) >= 3]
        if not words:
            return self.env["product.product"]
        named = compat.any_of(*([("name", "ilike", word)] for word in words))
        return self.env["product.product"].search(
            [("sale_ok", "=", True), *named], limit=AMBIGUOUS_SHOWN
        )

    def product_questions(self, references, match=None):
        """``{line number: [(reference, name), ...]}`` for each of
        ``references`` (line 1 first) whose product is ambiguous or unknown,
        with the products the requester may have meant; ``match`` finds a
        reference's products (``match_product`` by default). Lines with no
        such product at all are left for the caller to refuse."""
        match = match or self.match_product
        questions = {}
        for number, reference in enumerate(references, start=1):
            matches = match(reference)
            if len(matches) == 1:
                continue
            candidates = (matches or self.similar_products(reference))[:AMBIGUOUS_SHOWN]
            if candidates:
                questions[number] = [
                    (product.default_code or product.name, product.display_name)
                    for product in candidates
                ]
        return questions

    # ------------------------------------------------------------------ customer
    def _find_or_create_customer(self, task):
        normalized = email_normalize(task.email) if task.email else False
        if normalized:
            self._lock_customer(normalized)
        partner = self.find_customer(task.email, task.phone)
        if partner:
            return partner
        return self.env["res.partner"].create(self._prepare_customer_values(task))

    def find_customer(self, email, phone):
        """An existing customer: by e-mail first, then by phone number."""
        Partner = self.env["res.partner"]
        normalized = email_normalize(email) if email else False
        if normalized:
            partner = Partner.search(
                [("email_normalized", "=", normalized)], order="is_company, id", limit=1
            )
            if partner:
                return partner
        if phone:
            return Partner.search(
                [("phone_mobile_search", "=", phone)], order="is_company, id", limit=1
            )
        return Partner

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
            [("is_company", "=", True), ("name", "=ilike", escape_psql(name))], limit=1
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
    def _utm_values(self, channel):
        medium = self.env.ref(
            CHANNEL_MEDIUMS.get(channel, "utm.utm_medium_website"),
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
        values = self.opportunity_values(
            partner,
            task.company_id,
            _("Quotation request: %s", task.customer_name),
            task.channel,
            email=task.email,
            phone=task.phone,
            description=task.notes,
        )
        # assigned by _assign_salesperson, never to the integration user
        values["user_id"] = False
        values["revenue_from_quotations"] = True
        team = self._configured_team(task.company_id)
        values["team_id"] = team.id or False
        return self.env["crm.lead"].create(values)

    def opportunity_values(
        self, partner, company, name, channel, *, email, phone, description
    ):
        """The values of a new opportunity for ``partner``, come through
        ``channel`` (REST: a voice agent, or MCP), as the builder and the
        post-call webhook make it."""
        return {
            "type": "opportunity",
            "name": name,
            "partner_id": partner.id,
            "email_from": email or partner.email,
            "phone": phone or partner.phone,
            "description": description or False,
            "company_id": company.id,
            **self._utm_values(channel),
        }

    def _create_order(self, task, partner, lead, products):
        values = {
            "partner_id": partner.id,
            "opportunity_id": lead.id,
            "company_id": task.company_id.id,
            "origin": task.tracking_id,
            "user_id": False,
            "team_id": lead.team_id.id or False,
            "order_line": [
                Command.create(
                    {"product_id": product.id, "product_uom_qty": line.quantity}
                )
                for line, product in products.items()
            ],
            **self._utm_values(task.channel),
        }
        pricelist = self._configured_pricelist(task.company_id)
        if pricelist:
            values["pricelist_id"] = pricelist.id
        order = self.env["sale.order"].create(values)
        order._portal_ensure_token()  # the status answer links to it without writing
        return order

    def _assign_salesperson(self, records, task, partner):
        """Give the opportunity and quotation to whoever follows the customer
        (:meth:`follow_up_values`). The choice is the admin's, so it is
        written with sudo: an integration user limited to its own documents
        may not hand a document to someone else."""
        values = self.follow_up_values(partner, task.company_id)
        if not values["user_id"]:
            return
        for record in records:
            record.sudo().write(dict(values))  # crm.lead's write adds to its vals

    def follow_up_values(self, partner, company):
        """Who follows a new document of ``partner`` in ``company``, like a
        quotation typed in Odoo: ``user_id`` the customer's own salesperson
        first, else the one chosen in the settings, else nobody (False: every
        salesperson sees unassigned documents); ``team_id`` the settings' team,
        left out to let the salesperson's own team follow."""
        salesperson = (
            partner.user_id
            or partner.commercial_partner_id.user_id
            or self._configured_salesperson(company)
        )
        values = {"user_id": salesperson.id}
        team = self._configured_team(company)
        if team:
            values["team_id"] = team.id
        return values

    def _send_quotation(self, order):
        """E-mail the quotation with Sale's own template, as "Send by Email"
        does, and hand the customer's e-mail to the mail server now.

        Odoo would send it after the commit, where a mail server that is down
        only marks the e-mail failed: here a failure raises, so the caller's
        savepoint takes back the message and its e-mail, and the send is
        retried. Every pending write reaches the database before the mail
        server is called, so that nothing is likely to roll back once the
        e-mail is out (a retry would send it again). Copies to followers, if
        any, go after the commit, as Odoo sends them.
        """
        order = order.sudo()  # already handed to its salesperson: not the requester's
        message = order.with_context(mark_so_as_sent=True).message_post_with_source(
            order._find_mail_template(),
            email_layout_xmlid=QUOTATION_EMAIL_LAYOUT,
            subtype_xmlid="mail.mt_comment",
            force_send=False,  # queued, then sent below within this transaction
        )
        emails = (
            self.env["mail.mail"]
            .sudo()
            .search([("mail_message_id", "in", message.ids)])
        )
        to_customer = emails.filtered(
            lambda mail: order.partner_id in mail.recipient_ids
        )
        self._deliver_now(to_customer)
        (emails - to_customer).send_after_commit()

    def _deliver_now(self, emails):
        """Hand ``emails`` to the mail server now, or raise why they did not go."""
        if not emails:
            raise UserError(
                self.env._(
                    "The quotation's e-mail template does not address the customer."
                )
            )
        self.env.flush_all()
        emails.send(raise_exception=True)

    # ------------------------------------------------------------------ settings
    def _configured(self, key, model):
        return self.env[model].sudo().browse(read_setting(self.env, key)).exists()

    def _configured_salesperson(self, company):
        user = self._configured("user_id", "res.users")
        return user if user.active and company in user.company_ids else user.browse()

    def _configured_team(self, company):
        team = self._configured("team_id", "crm.team")
        return (
            team
            if team.company_id in (company, team.company_id.browse())
            else team.browse()
        )

    def _configured_pricelist(self, company):
        pricelist = self._configured("pricelist_id", "product.pricelist")
        if pricelist.company_id in (company, pricelist.company_id.browse()):
            return pricelist
        return pricelist.browse()
