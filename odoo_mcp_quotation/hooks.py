"""Server-wide hook: a listen backlog that holds a burst of agent calls.

Odoo's prefork server listens with a backlog of 8 connections per HTTP
worker (16 with ``--workers 2``). A voice platform opening a few hundred
connections at once overflows it: the kernel drops the handshakes it cannot
queue, clients and proxies wait for retransmissions (seconds, doubling) while
workers idle, and after about a minute the half-open ones are reset, their
requests lost. A full backlog is what queues a burst; workers then take the
connections one by one. The kernel caps it at ``net.core.somaxconn``.
"""

import socket

from odoo.service import server

LISTEN_BACKLOG = socket.SOMAXCONN


def post_load():
    """Widen the prefork server's listen backlog once it has opened its socket."""
    start = server.PreforkServer.start

    def start_with_backlog(self):
        start(self)
        if self.socket:
            self.socket.listen(LISTEN_BACKLOG)

    server.PreforkServer.start = start_with_backlog
