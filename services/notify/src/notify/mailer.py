"""Outgoing email behind one interface: SMTP to any server (the province's, or our local sink)."""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
import threading
from typing import Protocol


class DeliveryRejected(Exception):
    """The mail server refused the message for good (5xx): retrying cannot help, a person must look."""


class Mailer(Protocol):
    async def send(self, sender: str, recipient: str, message: bytes) -> None:
        """Hand `message` (a complete RFC 5322 message) to the mail server; returns once it accepted it."""
        ...


class SmtpMailer:
    """One SMTP session kept open between messages: a burst of deliveries does not pay a TCP connection and an
    EHLO per message (on the 2-core bench that was a large part of notify's and the sink's CPU)."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self._host = host
        self._port = port
        self._timeout = timeout
        self._smtp: smtplib.SMTP | None = None
        self._lock = threading.Lock()  # smtplib is not thread-safe; sends run in worker threads

    async def send(self, sender: str, recipient: str, message: bytes) -> None:
        # smtplib blocks: keep it off the event loop.
        await asyncio.to_thread(self._send_blocking, sender, recipient, message)

    def _send_blocking(self, sender: str, recipient: str, message: bytes) -> None:
        with self._lock:
            smtp = self._session()
            try:
                smtp.sendmail(sender, [recipient], message)
            except smtplib.SMTPRecipientsRefused as exc:
                raise DeliveryRejected("all recipients refused") from exc
            except smtplib.SMTPResponseException as exc:
                if exc.smtp_code >= 500:
                    raise DeliveryRejected(f"refused with {exc.smtp_code}") from exc
                self._drop()
                raise  # 4xx: the server asks us to come back later (an OSError: a dependency failure)
            except BaseException:
                self._drop()  # the session's state is unknown: never reuse it
                raise

    def _session(self) -> smtplib.SMTP:
        """The open session if the server still answers on it (a NOOP: nothing is sent twice), else a new one."""
        if self._smtp is not None:
            try:
                self._smtp.noop()
            except (smtplib.SMTPException, OSError):
                self._drop()
        if self._smtp is None:
            self._smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        return self._smtp

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.close()
