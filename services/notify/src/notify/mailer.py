"""Outgoing email behind one interface: SMTP to any server (the province's, or our local sink)."""

from __future__ import annotations

import asyncio
import smtplib
from typing import Protocol


class DeliveryRejected(Exception):
    """The mail server refused the message for good (5xx): retrying cannot help, a person must look."""


class Mailer(Protocol):
    async def send(self, sender: str, recipient: str, message: bytes) -> None:
        """Hand `message` (a complete RFC 5322 message) to the mail server; returns once it accepted it."""
        ...


class SmtpMailer:
    def __init__(self, host: str, port: int, timeout: float) -> None:
        self._host = host
        self._port = port
        self._timeout = timeout

    async def send(self, sender: str, recipient: str, message: bytes) -> None:
        # smtplib blocks: keep it off the event loop.
        await asyncio.to_thread(self._send_blocking, sender, recipient, message)

    def _send_blocking(self, sender: str, recipient: str, message: bytes) -> None:
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                smtp.sendmail(sender, [recipient], message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryRejected("all recipients refused") from exc
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code >= 500:
                raise DeliveryRejected(f"refused with {exc.smtp_code}") from exc
            raise  # 4xx: the server asks us to come back later (an OSError: a dependency failure)
