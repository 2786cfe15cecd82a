"""Odoo's own XML-RPC, as an integration or an administrator calls it."""

import time
import xmlrpc.client

import pytest


class Rpc:
    """``execute_kw`` for one user; the password may be an API key."""

    def __init__(self, server, login, password):
        self.db, self.password = server.database, password
        common = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/common")
        self.uid = common.authenticate(self.db, login, password, {})
        assert self.uid, f"cannot log in as {login}"
        self.models = xmlrpc.client.ServerProxy(
            f"{server.url}/xmlrpc/2/object", allow_none=True
        )

    def __call__(self, model, method, *args, **kwargs):
        return self.models.execute_kw(
            self.db, self.uid, self.password, model, method, list(args), kwargs
        )


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(0.3)
