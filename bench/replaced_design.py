"""A driver of the design this module replaces, for side-by-side figures.

The FastAPI service described in /work/shared/seed (``OdooClient`` over
XML-RPC, ``TaskManager`` in memory, background threads): a request is put on
an in-memory queue and answered at once; a background thread then builds the
quotation from outside Odoo, step by step over XML-RPC: authenticate, find or
create the customer, the opportunity, the products, the order. Nothing of it
survives a restart; here it only serves as the yardstick.
"""

import queue
import threading
import time
import uuid
import xmlrpc.client

TIMEOUT_SECONDS = 60


class _Transport(xmlrpc.client.Transport):
    """XML-RPC that gives up on a silent server, as an HTTP client with a timeout."""

    def make_connection(self, host):
        connection = super().make_connection(host)
        connection.timeout = TIMEOUT_SECONDS
        return connection


class ReplacedDesign:
    def __init__(self, url, database, login, api_key, threads):
        self.url, self.database, self.login, self.api_key = (
            url,
            database,
            login,
            api_key,
        )
        self.jobs = queue.Queue()
        self.tasks = {}  # tracking id -> {"status", "submitted", "done"}
        self.finished = threading.Condition()
        for _ in range(threads):
            threading.Thread(target=self._work, daemon=True).start()

    def submit(self, body):
        tracking_id = uuid.uuid4().hex
        self.tasks[tracking_id] = {
            "status": "pending",
            "submitted": time.perf_counter(),
        }
        self.jobs.put((tracking_id, body))
        return tracking_id

    def wait(self, tracking_id):
        """Seconds from submission to the order, once it exists."""
        with self.finished:
            self.finished.wait_for(
                lambda: self.tasks[tracking_id]["status"] != "pending"
            )
        task = self.tasks[tracking_id]
        if task["status"] != "done":
            raise RuntimeError(task["status"])
        return task["done"] - task["submitted"]

    def _work(self):
        while True:
            tracking_id, body = self.jobs.get()
            try:
                self._build(body)
                status = "done"
            except Exception as error:  # the waiting caller is told
                status = f"failed: {error!r}"
            with self.finished:
                self.tasks[tracking_id].update(status=status, done=time.perf_counter())
                self.finished.notify_all()

    def _build(self, body):
        common = xmlrpc.client.ServerProxy(
            f"{self.url}/xmlrpc/2/common", transport=_Transport()
        )
        uid = common.authenticate(self.database, self.login, self.api_key, {})
        models = xmlrpc.client.ServerProxy(
            f"{self.url}/xmlrpc/2/object", transport=_Transport()
        )

        def call(model, method, *args, **kwargs):
            return models.execute_kw(
                self.database, uid, self.api_key, model, method, list(args), kwargs
            )

        found = call(
            "res.partner", "search", [("email", "=ilike", body["email"])], limit=1
        )
        partner = (
            found[0]
            if found
            else call(
                "res.partner",
                "create",
                {"name": body["customer_name"], "email": body["email"]},
            )
        )
        lead = call(
            "crm.lead",
            "create",
            {
                "name": f"Quotation for {body['customer_name']}",
                "type": "opportunity",
                "partner_id": partner,
            },
        )
        lines = []
        for line in body["lines"]:
            product = call(
                "product.product",
                "search",
                [("default_code", "=", line["product"])],
                limit=1,
            )
            lines.append(
                (0, 0, {"product_id": product[0], "product_uom_qty": line["quantity"]})
            )
        order = call(
            "sale.order",
            "create",
            {"partner_id": partner, "opportunity_id": lead, "order_line": lines},
        )
        return call("sale.order", "read", [order], fields=["name", "amount_total"])
