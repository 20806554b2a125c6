"""Development SMTP sink: a real SMTP server (aiosmtpd) that records every message in a Maildir."""

from __future__ import annotations

import asyncio
import mailbox
import signal
from pathlib import Path
from typing import Any

import structlog
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

log = structlog.get_logger("notify.sink")


class MaildirRecorder:
    def __init__(self, folder: Path) -> None:
        folder.parent.mkdir(parents=True, exist_ok=True)  # Maildir(create=True) makes folder/{tmp,new,cur}
        self._box = mailbox.Maildir(str(folder), create=True)

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        content: Any = envelope.original_content or envelope.content
        self._box.add(mailbox.MaildirMessage(bytes(content)))
        log.info("mail_recorded", recipients=len(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


async def serve(host: str, port: int, folder: Path) -> None:
    controller = Controller(MaildirRecorder(folder), hostname=host, port=port)
    controller.start()
    log.info("smtp_sink_listening", port=port, folder=str(folder))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    controller.stop()
