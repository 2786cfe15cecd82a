"""An agent changes one of its own quotations: quantities, new and removed lines.

REST and MCP both call :class:`QuotationUpdateService`. The change is made
only while the customer has not confirmed the quotation and nobody else
edited it since the agent last saw it; products are found as the builder
finds them, and an ambiguous one is asked back (MCP) or refused with the
candidates (REST), changing nothing.
"""

import psycopg2
from markupsafe import Markup, escape

from odoo import SUPERUSER_ID, Command
from odoo.exceptions import UserError

from ..lib.query_schema import QuotationUpdated
from ..lib.request_schema import parse_idempotency_key, parse_update
from .caller import CLIENT_CONTEXT_KEY
from .quotation_builder import AMBIGUOUS_SHOWN, QuotationBuilder
from .quotation_service import QuotationService, quotation_version

EDITABLE_STATES = ("draft", "sent")


class QuotationConflict(UserError):
    """The quotation may not be changed now: confirmed, or edited by someone
    else since the agent read it (REST answers 409)."""


class QuotationUpdateService:
    def __init__(self, env):
        self.env = env
        self.builder = QuotationBuilder(env)

    # ------------------------------------------------------------------ finding
    # ------------------------------------------------------------------ products
    def _matches(self, order, reference):
        """The builder's matches, narrowed to the order's own products when
        exactly one of them is on it ("the chair" of a quotation with one)."""
        matches = self.builder.match_product(reference)
        on_order = matches & order.order_line.product_id
        return on_order if len(matches) > 1 and len(on_order) == 1 else matches

    def product_questions(self, identifier, payload):
        """``{line number: [(reference, name), ...]}`` for the changes whose
        product is ambiguous or unknown, as ``QuotationService`` asks for a
        new quotation."""
        task = QuotationService(self.env).own_quotation_task(identifier)
        order = task.sale_order_id.sudo()
        return self.builder.product_questions(
            [line.product for line in parse_update(payload).lines],
            lambda reference: self._matches(order, reference),
        )

    def _resolve(self, order, request, products):
        """``[(product, quantity)]``, or UserError naming every line whose
        product is unknown or ambiguous, with the candidates."""
        resolved, problems = [], []
        for number, line in enumerate(request.lines, start=1):
            reference = (products or {}).get(number, line.product)
            matches = self._matches(order, reference)
            if len(matches) == 1:
                resolved.append((matches, line.quantity))
            elif not matches:
                problems.append(
                    self.env._(
                        'line %(number)s ("%(ref)s"): no product matches.',
                        number=number,
                        ref=reference,
                    )
                )
            else:
                problems.append(
                    self.env._(
                        'line %(number)s ("%(ref)s"): %(count)s products match '
                        "(%(names)s); give the internal reference.",
                        number=number,
                        ref=reference,
                        count=len(matches),
                        names=", ".join(
                            matches[:AMBIGUOUS_SHOWN].mapped("display_name")
                        ),
                    )
                )
        if problems:
            raise UserError(
                self.env._(
                    "Nothing was changed: some products could not be identified: %s",
                    " ".join(problems),
                )
            )
        return resolved

    # ------------------------------------------------------------------ changing
    def update(self, identifier, payload, channel, idempotency_key=None, products=None):
        """Change the quotation; the answer REST and MCP both give.

        ``products`` ({line number: reference}) replaces what some changes
        named with the product the requester chose (see product_questions).
        """
        idempotency_key = parse_idempotency_key(idempotency_key)
        request = parse_update(payload)
        idempotency_key = idempotency_key or request.idempotency_key
        Change = self.env["quotation.task.change"]
        if idempotency_key:
            done = Change._find_by_idempotency_key(idempotency_key)
            if done:
                return done.answer
        task = QuotationService(self.env).own_quotation_task(identifier)
        order = task.sale_order_id.sudo()  # handed over: maybe not the caller's
        self._lock(order)
        self._check_editable(order, request.expected_version)
        changes = self._apply(order, self._resolve(order, request, products))
        task.sudo().amount_total = order.amount_total
        self._post_note(order, changes, channel)
        order.flush_recordset()
        answer = self._answer(order, changes)
        Change.sudo().create(
            {
                "task_id": task.id,
                "sale_order_id": order.id,
                "requested_by_id": self.env.uid,
                "channel": channel,
                "client_name": self._client(),
                "idempotency_key": idempotency_key,
                "changes": changes,
                "answer": answer,
            }
        )
        if changes:
            self._audit(task, order, channel, idempotency_key, changes)
        return answer

    def _lock(self, order):
        """One change of an order at a time: a second one is refused at once
        rather than applied over a version it did not see."""
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(
                    "SELECT 1 FROM sale_order WHERE id = %s FOR NO KEY UPDATE NOWAIT",
                    [order.id],
                )
        except psycopg2.OperationalError:  # locked, or changed since we began
            raise QuotationConflict(
                self.env._(
                    "Nothing was changed: quotation %s is being changed by another "
                    "request right now. Read it again in a moment.",
                    order.name,
                )
            ) from None
        order.invalidate_recordset()

    def _check_editable(self, order, expected_version):
        if order.state not in EDITABLE_STATES:
            raise QuotationConflict(
                self.env._(
                    "Nothing was changed: quotation %(reference)s is %(state)s; "
                    "only a quotation the customer has not confirmed can be "
                    "changed. A salesperson can change it in Odoo.",
                    reference=order.name,
                    state=dict(order._fields["state"]._description_selection(self.env))[
                        order.state
                    ],
                )
            )
        version = quotation_version(order)
        # what the customer is quoted, not an e-mail or a state: sending the
        # quotation (as its salesperson) is no edit; the builder's own writes
        # may be flushed by the cron's user (OdooBot)
        editor = order._content_editor()
        edited_by_another = editor.id not in (self.env.uid, SUPERUSER_ID)
        if (expected_version and expected_version != version) or (
            not expected_version and edited_by_another
        ):
            raise QuotationConflict(
                self.env._(
                    "Nothing was changed: %(user)s edited quotation %(reference)s "
                    "since you last read it. Read it again (get_quotation), "
                    "check it with the customer, and give its version as "
                    "expected_version.",
                    user=editor.name,
                    reference=order.name,
                )
            )

    def _apply(self, order, resolved):
        """Write the new quantities; ``[{product, quantity_before,
        quantity_after}]`` of what changed."""
        changes, commands = [], []
        for product, quantity in resolved:
            lines = order.order_line.filtered(
                lambda line, product=product: (
                    line.product_id == product and not line.display_type
                )
            )
            before = sum(lines.mapped("product_uom_qty"))
            if not lines and not quantity:
                raise UserError(
                    self.env._(
                        "Nothing was changed: %(product)s is not on quotation "
                        "%(reference)s.",
                        product=product.display_name,
                        reference=order.name,
                    )
                )
            if before == quantity:
                continue
            if not quantity:
                commands += [Command.delete(line.id) for line in lines]
            elif lines:
                commands.append(
                    Command.update(lines[0].id, {"product_uom_qty": quantity})
                )
                commands += [Command.delete(line.id) for line in lines[1:]]
            else:
                commands.append(
                    Command.create(
                        {"product_id": product.id, "product_uom_qty": quantity}
                    )
                )
            changes.append(
                {
                    "product": product.display_name,
                    "quantity_before": before,
                    "quantity_after": quantity,
                }
            )
        if commands:
            order.write({"order_line": commands})
        return changes

    def _post_note(self, order, changes, channel):
        """Who changed what through which agent, on the quotation's chatter."""
        if not changes:
            return
        items = Markup().join(
            Markup("<li>%s</li>")
            % self.env._(
                "%(product)s: %(before)s → %(after)s",
                product=change["product"],
                before=change["quantity_before"],
                after=change["quantity_after"],
            )
            for change in changes
        )
        intro = self.env._(
            "%(user)s changed this quotation through %(agent)s:",
            user=self.env.user.name,
            agent=self._agent(channel),
        )
        order.message_post(
            body=Markup("<p>%s</p><ul>%s</ul>") % (escape(intro), items),
            author_id=self.env.user.partner_id.id,
            subtype_xmlid="mail.mt_note",
            message_type="comment",
        )

    def _client(self):
        """Which agent calls: what its MCP client calls itself, else its OAuth
        client's or API key's name (``caller.py``); None if nothing says."""
        return self.env.context.get(CLIENT_CONTEXT_KEY) or None

    def _agent(self, channel):
        client = self._client()
        if channel == "rest":
            if client:
                return self.env._("%s (REST API)", client)
            return self.env._("a voice agent (REST API)")
        if client:
            return self.env._("%s (MCP client)", client)
        return self.env._("an MCP client")

    def _answer(self, order, changes):
        if changes:
            message = self.env._(
                "Quotation %(reference)s changed: the total is now %(total)s "
                "%(currency)s.",
                reference=order.name,
                total=f"{order.amount_total:.2f}",
                currency=order.currency_id.name,
            )
        else:
            message = self.env._(
                "Quotation %s already had these quantities: nothing was changed.",
                order.name,
            )
        facts = QuotationService(self.env).quotation_facts(order)
        return QuotationUpdated(**facts, message=message, changes=changes).model_dump(
            exclude_unset=True
        )

    def _audit(self, task, order, channel, idempotency_key, changes):
        """The change in the audit log, in the task's folder (``updated-N``)."""
        Entry = self.env["quotation.audit.entry"]
        count = (
            self.env["quotation.task.change"]
            .sudo()
            .search_count([("task_id", "=", task.id)])
        )
        Entry._record_document(
            task.tracking_id,
            task.company_id,
            "updated",
            name=f"updated-{count}",
            document={
                "channel": channel,
                "client": self._client(),
                "idempotency_key": idempotency_key,
                "sale_order": {"id": order.id, "name": order.name},
                "changes": changes,
                "amount_total": order.amount_total,
                "currency": order.currency_id.name,
            },
            dated=task.create_date,
        )
