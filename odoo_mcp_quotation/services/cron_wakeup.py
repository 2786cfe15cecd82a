"""Wake Odoo's cron workers without a new database connection per request.

Odoo's ``ir.cron._notifydb`` sends its notification on a connection to the
``postgres`` database that its pool never keeps, so every wake-up pays for a
fresh connection, the largest single cost of queueing a task
(docs/performance.md).
This sends the same notification, through the same ``ODOO_NOTIFY_FUNCTION``,
on one connection per process, kept open, for our queues and for every cron
trigger (``models/ir_cron.py``); ``test_cron_queue_mixin`` fails if
Odoo's own wake-up ever differs from it.
"""

import os
import threading

import psycopg2

from odoo import sql_db
from odoo.tools import SQL

from odoo.addons.base.models.ir_cron import ODOO_NOTIFY_FUNCTION

_lock = threading.Lock()
_connection = {}  # {"pid": ..., "connection": ...}: never shared across a fork


def _notify_connection():
    connection = _connection.get("connection")
    if connection is None or _connection["pid"] != os.getpid() or connection.closed:
        _dbname, params = sql_db.connection_info_for("postgres")
        connection = psycopg2.connect(**params)
        connection.autocommit = True
        _connection.update(pid=os.getpid(), connection=connection)
    return connection


def notify_statement(dbname):
    """What ``ir.cron._notifydb`` executes: cron workers LISTEN on ``cron_trigger``."""
    return SQL(
        "SELECT %s('cron_trigger', %s)", SQL.identifier(ODOO_NOTIFY_FUNCTION), dbname
    )


def wake_cron_workers(dbname):
    """Send ``_notifydb``'s notification on this process's kept-open connection."""
    statement = notify_statement(dbname)
    with _lock:
        for attempt in (1, 2):  # a connection the server closed gets one retry
            try:
                with _notify_connection().cursor() as cr:
                    cr.execute(statement.code, statement.params)
                return
            except psycopg2.Error:
                connection = _connection.pop("connection", None)
                if connection is not None:
                    connection.close()
                if attempt == 2:
                    raise
