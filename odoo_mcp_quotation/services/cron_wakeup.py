"""Wake Odoo's cron workers without a new database connection per request.

Odoo's ``ir.cron._trigger`` sends ``NOTIFY cron_trigger`` on a connection to
the ``postgres`` database that its pool never keeps, so every wake-up pays for
a fresh connection (about 3 ms, the largest single cost of queueing a task).
This sends the same notification on one connection per process, kept open.
"""

import os
import threading

import psycopg2

from odoo import sql_db

_lock = threading.Lock()
_connection = {}  # {"pid": ..., "connection": ...}: never shared across a fork


def _notify_connection():
    if _connection.get("pid") != os.getpid() or _connection["connection"].closed:
        _dbname, params = sql_db.connection_info_for("postgres")
        connection = psycopg2.connect(**params)
        connection.autocommit = True
        _connection.update(pid=os.getpid(), connection=connection)
    return _connection["connection"]


def wake_cron_workers(dbname):
    """What ``ir.cron._notifydb`` does: cron workers LISTEN on ``cron_trigger``."""
    with _lock:
        for attempt in (1, 2):  # a connection the server closed gets one retry
            try:
                with _notify_connection().cursor() as cr:
                    cr.execute("NOTIFY cron_trigger, %s", [dbname])
                return
            except psycopg2.Error:
                _connection["connection"].close()
                if attempt == 2:
                    raise
