"""What REST, MCP and the UI do with quotations: one implementation for all.

Controllers and MCP tools translate their protocol to these calls and back;
they never search or write the ORM themselves.
"""

import logging

from odoo.exceptions import MissingError, UserError

from .. import compat
from ..lib import paging
from ..lib.query_schema import (
    Customer,
    CustomerList,
    Product,
    ProductList,
    Quotation,
    QuotationLine,
    QuotationList,
    QuotationQueued,
    QuotationSent,
    QuotationStatus,
    QuotationSummary,
)
from ..lib.request_schema import (
    TRACKING_ID,
    SendQuotationRequest,
    parse_idempotency_key,
    parse_object,
    parse_quotation_reference,
    parse_request,
)
from . import agent_messages as messages
from .build_in_time import build_in_time
from .quotation_builder import QuotationBuilder

_logger = logging.getLogger(__name__)

STATUS_PATH = "/api/quotation/status/"
SENDABLE_STATES = ("draft", "sent")  # a confirmed or cancelled one is not a quotation


# what a task's summary (and its MCP task view) reads of it, in one query
SUMMARY_FIELDS = [
    "write_date",
    "tracking_id",
    "state",
    "attempts",
    "create_date",
    "sale_order_id",
    "error",
    "lang",
    "requested_by_id",
    "next_attempt_at",
    "send_state",
    "send_error",
]


# what a status answer shows of the task's quotation, with its currency's name,
# read with the task
ORDER_FIELDS = ["name", "amount_total", "access_token"]


def _answer(model):
    """An answer as JSON takes it: the members left unset stay out."""
    return model.model_dump(exclude_unset=True)


def _page(model, key, records, item, *, offset, limit):
    """A list answer: the first ``limit`` of ``records`` (searched with one
    more, to know whether more match) as ``item`` makes them, cut to fit one
    tool result (lib/paging.py), with the ``next_offset`` when more match."""
    items = [_answer(item(record)) for record in records[:limit]]
    items, next_offset = paging.fit(items, offset, len(records) > limit)
    page = {key: items}
    if next_offset is not None:
        page["next_offset"] = next_offset
    return _answer(model(**page))


def _quotation_of(task):
    """What the task made is part of the task: whoever may see the task sees
    its quotation's facts, even once the order is reassigned (usually read
    with the task: ``quotation.task._search_fetch_with_orders``)."""
    return task.sale_order_id.sudo()


def _utc(moment):
    return moment.isoformat() + "Z"


def quotation_version(order):
    """What changes with every edit of what the customer is quoted (lines,
    customer, terms), to the microsecond; not with an e-mail, a state or a
    note (``sale.order._content_stamp``)."""
    edited = order.content_write_date or order.write_date
    return edited.isoformat() if edited else None


def quotation_lines(order):
    """The order's product lines (no sections or notes) as agents and the audit
    log read them."""
    return [
        QuotationLine(
            product_id=line.product_id.id,
            product_reference=line.product_id.default_code or None,
            product=line.product_id.name,
            description=line.name,
            quantity=line.product_uom_qty,
            unit=line[compat.ORDER_LINE_UOM].name,
            unit_price=line.price_unit,
            discount=line.discount,
            subtotal=line.price_subtotal,
        )
        for line in order.order_line
        if not line.display_type
    ]


class QuotationService:
    def __init__(self, env):
        self.env = env
        self.tasks = env["quotation.task"]

    def submit(self, payload, channel, idempotency_key=None, products=None):
        """Validate and queue a request; RequestInvalid lists every problem.

        ``products`` ({line number: reference}) replaces what some lines asked
        for with the product the requester chose (see product_questions).
        """
        idempotency_key = parse_idempotency_key(idempotency_key)
        request = parse_request(payload)
        for number, reference in (products or {}).items():
            request.lines[number - 1].product = reference
        return self.tasks._create_from_request(request, channel, idempotency_key)

    def product_questions(self, payload):
        """Lines whose product is ambiguous or unknown, with the products the
        requester may have meant: ``{line number: [(reference, name), ...]}``.
        Lines with no such product at all are left for the builder to refuse."""
        lines = parse_request(payload).lines
        return QuotationBuilder(self.env).product_questions(
            [line.product for line in lines]
        )

    def find_task(self, tracking_id):
        """The caller's own task, or MissingError: others' tasks do not exist."""
        if not TRACKING_ID.fullmatch(tracking_id or ""):
            raise MissingError(messages.say(messages.NOT_FOUND, self.env.lang))
        task = self.tasks._search_fetch_with_orders(
            [("tracking_id", "=", tracking_id), ("requested_by_id", "=", self.env.uid)],
            SUMMARY_FIELDS,
            ORDER_FIELDS,
            limit=1,
        )
        if not task:
            raise MissingError(messages.say(messages.NOT_FOUND, self.env.lang))
        return task

    def status(self, tracking_id):
        task = self.find_task(tracking_id)
        self.tasks._wake_if_stalled(task._due_since())
        return self.summary(task)

    def create_quotation(
        self, payload, channel, idempotency_key=None, products=None, base_url=None
    ):
        """Queue a request; the answer REST and MCP both give (see ``queued``)."""
        task = self.submit(payload, channel, idempotency_key, products)
        return self.queued(task, base_url)

    def finished_within(self, tracking_id, seconds, base_url=None):
        """The answer to a task just queued (``queued``'s), once it is
        finished, when its client waits ``seconds`` for it and this worker
        may build it in that time (``build_in_time``); else None: the task
        waits in the queue as usual, and nothing that goes wrong here changes
        that answer. Commits the request's transaction first."""
        task = self.find_task(tracking_id)
        try:
            finished = build_in_time(task, seconds)
        except Exception:  # the task is queued: that answer is still true
            _logger.exception("Waiting for quotation request %s failed", tracking_id)
            self.env.cr.rollback()
            return None
        return self.queued(task, base_url) if finished else None

    def queued(self, task, base_url=None):
        """The answer to a new task (or to a retry that found it): its status,
        and the URL to follow it on ``base_url`` (the request's host; else
        Odoo's)."""
        message = None
        if task.state == "pending" and not task.error:
            message = messages.say(messages.QUEUED, self._lang(task))
        base_url = (base_url or task.get_base_url()).rstrip("/")
        extra = {"status_url": f"{base_url}{STATUS_PATH}{task.tracking_id}"}
        order = _quotation_of(task)
        if task.state == "done" and order:  # what the quotation card draws
            extra["quotation"] = Quotation(**self.quotation_facts(order))
        return self._status(task, QuotationQueued, message=message, **extra)

    def summary(self, task):
        """The task as agents see it: state, and the quotation once it exists."""
        return self._status(task)

    def _status(self, task, answer=QuotationStatus, message=None, **extra):
        order = _quotation_of(task)
        facts = {
            "tracking_id": task.tracking_id,
            "status": task.state,
            "message": message or self.state_message(task),
            "attempts": task.attempts,
            "created_at": _utc(task.create_date),
        }
        if order:
            facts.update(
                order_reference=order.name,
                total=order.amount_total,
                currency=order.currency_id.name,
                portal_url=self._portal_url(order),
            )
        if task.error:
            facts["error"] = task.error
        facts.update(self._email_facts(task))
        return _answer(answer(**facts, **extra))

    def _email_facts(self, task):
        """The quotation's e-mail, when one was asked for (``quotation.send``)."""
        if not task.send_state:
            return {}
        facts = {"email": task.send_state}
        if task.send_state != "sent" and task.send_error:
            facts["email_error"] = task.send_error
        return facts

    def state_message(self, task):
        """What the task's state means, in the request's language."""
        lang = self._lang(task)
        if task.state == "done":
            order = _quotation_of(task)
            ready = messages.STATES["done"]
            if task.send_state in ("to_send", "failed"):
                ready = messages.NOT_YET_SENT
            return messages.say(
                ready,
                lang,
                reference=order.name,
                total=f"{order.amount_total:.2f}",
                currency=order.currency_id.name,
            )
        if task.state == "failed":
            return messages.say(messages.STATES["failed"], lang, error=task.error)
        if task.state == "pending" and task.error:
            return messages.say(messages.RETRYING, lang)
        return messages.say(messages.STATES[task.state], lang)

    def _portal_url(self, order):
        """The customer's link, with the order's access token if it has one.

        Odoo's ``get_portal_url`` creates a missing token, a write; a read never
        writes. Orders built here got theirs at build time; others link to the
        portal page, where the customer signs in.
        """
        url = order.get_base_url() + order.access_url
        return f"{url}?access_token={order.access_token}" if order.access_token else url

    def _lang(self, task):
        """The request's language, else its requester's: from the per-process
        cache of the user's context when the requester is the caller (two
        reads fewer on every status answer)."""
        if task.lang:
            return task.lang
        if task.requested_by_id.id == self.env.uid:
            return self.env["res.users"].context_get()["lang"]
        return task.requested_by_id.lang

    # ------------------------------------------------------------------ tasks
    def list_tasks(self, channel, before_id=None, limit=20):
        """The caller's own tasks on ``channel``, newest first, below
        ``before_id`` when paging."""
        domain = [("requested_by_id", "=", self.env.uid), ("channel", "=", channel)]
        if before_id:
            domain.append(("id", "<", before_id))
        return self.tasks._search_fetch_with_orders(
            domain, SUMMARY_FIELDS, ORDER_FIELDS, limit=limit
        )

    def cancel(self, task):
        """Cancel one of the caller's own tasks (from ``find_task``) while it
        waits; False once a worker has taken it or it has ended."""
        if task.state != "pending":
            return False
        task.sudo().action_cancel()  # requesters may cancel their own task
        return True

    # ------------------------------------------------------------------ queries
    # Read-only answers for agents (MCP tools, REST), as the caller: record
    # rules decide what they see. Shapes: lib/query_schema.py.
    def search_products(self, query, limit=10, offset=0):
        """Sellable products whose name, reference or barcode matches."""
        catalog = self.env["product.product"]
        products = catalog.search(
            [
                ("sale_ok", "=", True),
                *compat.any_of(
                    [("default_code", "ilike", query)],
                    [("name", "ilike", query)],
                    [("barcode", "=", query)],
                ),
            ],
            offset=offset,
            limit=limit + 1,
        )
        with_stock = "qty_available" in catalog._fields  # Inventory installed
        return _page(
            ProductList,
            "products",
            products,
            lambda product: self._product(product, with_stock),
            offset=offset,
            limit=limit,
        )

    def _product(self, product, with_stock):
        stock = {"on_hand": product.qty_available} if with_stock else {}
        return Product(
            reference=product.default_code or None,
            name=product.name,
            barcode=product.barcode or None,
            price=product.lst_price,
            currency=product.currency_id.name,
            unit=product.uom_id.name,
            **stock,
        )

    def find_customer(self, query, limit=5, offset=0):
        """Customers by name, e-mail or phone, the most active buyers first."""
        matches = [[("name", "ilike", query)], [("email", "ilike", query)]]
        if sum(char.isdigit() for char in query) >= 5:
            matches.append([("phone_mobile_search", "ilike", query)])
        partners = self.env["res.partner"].search(
            compat.any_of(*matches),
            order="customer_rank desc, id desc",
            offset=offset,
            limit=limit + 1,
        )
        return _page(
            CustomerList,
            "customers",
            partners,
            lambda partner: Customer(
                id=partner.id,
                name=partner.name or partner.display_name,
                email=partner.email or None,
                phone=partner.phone or partner.mobile or None,
                company=partner.parent_id.name or None,
                is_company=partner.is_company,
            ),
            offset=offset,
            limit=limit,
        )

    def get_quotation(self, reference):
        """A quotation the caller may see, with lines, totals and portal link."""
        order = self.env["sale.order"].search([("name", "=", reference)], limit=1)
        if not order:
            raise MissingError(
                self.env._(
                    "No quotation with reference %s that you can see.", reference
                )
            )
        return _answer(Quotation(**self.quotation_facts(order)))

    def quotation_facts(self, order):
        """What agents read of a quotation (``Quotation``'s members), in the
        caller's language: a unit's name too (an MCP request has none in its
        context)."""
        order = order.with_context(lang=self.env["res.users"].context_get()["lang"])
        return {
            "reference": order.name,
            "state": order.state,
            "customer": order.partner_id.display_name,
            "customer_email": order.partner_id.email or None,
            "date": _utc(order.date_order),
            "valid_until": order.validity_date.isoformat()
            if order.validity_date
            else None,
            "salesperson": order.user_id.name or None,
            "lines": quotation_lines(order),
            "amount_untaxed": order.amount_untaxed,
            "amount_tax": order.amount_tax,
            "amount_total": order.amount_total,
            "currency": order.currency_id.name,
            "portal_url": self._portal_url(order),
            "version": quotation_version(order),
            "odoo_url": f"{order.get_base_url()}/odoo/sale.order/{order.id}",
        }

    def list_recent_quotations(self, limit=10, customer=None, offset=0):
        """The newest quotations and orders the caller may see."""
        domain = [("partner_id", "ilike", customer)] if customer else []
        orders = self.env["sale.order"].search(
            domain, order="date_order desc, id desc", offset=offset, limit=limit + 1
        )
        return _page(
            QuotationList,
            "quotations",
            orders,
            lambda order: QuotationSummary(
                reference=order.name,
                customer=order.partner_id.display_name,
                state=order.state,
                date=_utc(order.date_order),
                amount_total=order.amount_total,
                currency=order.currency_id.name,
            ),
            offset=offset,
            limit=limit,
        )

    # ------------------------------------------------------------------ send
    def send_quotation(self, arguments, ask=None):
        """E-mail one of the caller's own quotations to its customer with Sale's
        template and portal link, as its salesperson: once per confirmed
        request (``quotation.send``; a failed send is retried on its own).

        Confirmed by ``ask(order)`` (MCP elicitation) where the client can be
        asked, else by ``confirm: true``; refused, with nothing
        sent, for another user's quotation, one confirmed or cancelled, or
        without confirmation.
        """
        request = parse_object(
            SendQuotationRequest, arguments, "(arguments)", "The arguments"
        )
        task = self.own_quotation_task(request.quotation)
        order = _quotation_of(task)
        lang = self._lang(task)
        if order.state not in SENDABLE_STATES:
            state = dict(order._fields["state"]._description_selection(order.env))
            raise UserError(
                messages.say(
                    messages.NOT_SENDABLE,
                    lang,
                    reference=order.name,
                    state=state.get(order.state, order.state),
                )
            )
        if not order.partner_id.email:
            raise UserError(messages.say(messages.NO_CUSTOMER_EMAIL, lang))
        if not (ask(order) if ask else request.confirm):
            raise UserError(
                messages.say(messages.NOT_CONFIRMED, lang, reference=order.name)
            )
        send = self.env["quotation.send"]._queue_claimed(order, self.env.user, task)
        send._attempt_claimed()
        return self._sent_answer(send, lang)

    def own_quotation_task(self, quotation):
        """The caller's task that made ``quotation`` (a reference or a tracking
        id), or MissingError: others' quotations do not exist for them. Found
        as superuser among the caller's own tasks of its companies: the
        quotation may since belong to a salesperson the caller cannot read."""
        quotation = parse_quotation_reference(quotation)
        key = (
            "tracking_id" if TRACKING_ID.fullmatch(quotation) else "sale_order_id.name"
        )
        domain = [
            (key, "=", quotation),
            ("requested_by_id", "=", self.env.uid),
            ("company_id", "in", self.env.companies.ids),
            ("sale_order_id", "!=", False),
        ]
        task = self.tasks.sudo().search(domain, limit=1)
        if not task:
            raise MissingError(
                messages.say(
                    messages.NO_SUCH_QUOTATION, self.env.lang, reference=quotation
                )
            )
        return task.with_env(self.env)

    def _sent_answer(self, send, lang):
        order = send.order_id.sudo()
        state = send._send_state()
        if state == "sent":
            message = messages.say(messages.SENT, lang, reference=order.name)
        else:
            message = messages.say(
                messages.NOT_YET_SENT,
                lang,
                reference=order.name,
                total=f"{order.amount_total:.2f}",
                currency=order.currency_id.name,
            )
        facts = {"reference": order.name, "email": state, "message": message}
        if state != "sent" and send.error:
            facts["error"] = send.error
        facts["quotation"] = Quotation(**self.quotation_facts(order))
        return _answer(QuotationSent(**facts))
