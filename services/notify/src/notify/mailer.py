"""Outgoing email behind one interface: SMTP to any server (the province's, or our local sink)."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from typing import Protocol


class DeliveryRejected(Exception):
    """The mail server refused the message for good (5xx): retrying cannot help, a person must look."""


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SmtpMailer:
    def __init__(self, host: str, port: int, timeout: float) -> None:
        self._host = host
        self._port = port
        self._timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        # smtplib blocks: keep it off the event loop.
        await asyncio.to_thread(self._send_blocking, message)

    def _send_blocking(self, message: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryRejected("all recipients refused") from exc
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code >= 500:
                raise DeliveryRejected(f"refused with {exc.smtp_code}") from exc
            raise  # 4xx: the server asks us to come back later (an OSError: retried by the consumer)
