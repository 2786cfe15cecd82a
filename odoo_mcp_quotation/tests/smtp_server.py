"""A real SMTP server for tests: aiosmtpd on loopback, Odoo's outgoing mail
server pointed at it for one test class.

The harness's pytest-odoo run leaves Odoo's test mode off, so Odoo talks SMTP
for real there: without a server, every e-mail would fail. Odoo's own runner
sends nothing (test mode); the tests count Odoo's notifications, kept by both.
"""

import socket

from aiosmtpd.controller import Controller


class Inbox:
    """What the SMTP server received: one envelope per e-mail."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd names it
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


class MailServerMixin:
    """A test class whose e-mails go to ``cls.inbox``, a real SMTP server."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        cls.inbox = Inbox()
        controller = Controller(cls.inbox, hostname="127.0.0.1", port=port)
        controller.start()
        cls.addClassCleanup(controller.stop)
        cls.env["ir.mail_server"].create(
            {
                "name": "Test SMTP",
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
                "smtp_encryption": "none",
                "sequence": 1,
            }
        )
