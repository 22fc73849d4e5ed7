"""A real local SMTP server (aiosmtpd) that keeps every message it accepts: feedback's e-mails (the report,
the survey link) reach it in the tests that run the whole job.

    with mail_server() as (box, port):   # SMTP_PORT=port for the services
        ...
        assert box.messages
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiosmtpd.controller import Controller

from compressor_kit.testing.ports import free_port


class MailBox:
    """aiosmtpd handler: every accepted message's envelope, in order."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@contextmanager
def mail_server() -> Iterator[tuple[MailBox, int]]:
    """An SMTP server on a free local port: its mailbox and port; stopped afterwards."""
    box = MailBox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield box, controller.port
    finally:
        controller.stop()
