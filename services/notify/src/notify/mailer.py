"""Outgoing email behind one interface: SMTP to any server (the province's, or our local sink)."""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
from typing import Protocol


class DeliveryRejected(Exception):
    """The mail server refused the message for good (5xx): retrying cannot help, a person must look."""


class Mailer(Protocol):
    async def send(self, sender: str, recipient: str, message: bytes) -> None:
        """Hand `message` (a complete RFC 5322 message) to the mail server; returns once it accepted it."""
        ...


class SmtpPool:
    """A few SMTP sessions kept open between messages, each used by one send at a time.

    Kept open: a burst of deliveries does not pay a TCP connection and an EHLO per message (on the 2-core
    bench that was a large part of notify's and the sink's CPU). Several: one slow server answer does not hold
    up every other message, yet a burst never opens more than `size` connections (mail servers limit them
    per client, and count a flood of new ones as abuse).
    """

    def __init__(self, host: str, port: int, timeout: float, size: int = 4) -> None:
        if size < 1:
            raise ValueError("an SMTP pool needs at least one session")
        self._host = host
        self._port = port
        self._timeout = timeout
        self._slots = asyncio.Semaphore(size)
        # Sessions nobody uses right now; only touched on the event loop. The most recently used one is taken
        # first, so a quiet period lets the others time out on the server instead of keeping all alive.
        self._idle: list[smtplib.SMTP] = []

    async def send(self, sender: str, recipient: str, message: bytes) -> None:
        async with self._slots:
            session = self._idle.pop() if self._idle else None
            # smtplib blocks: keep it off the event loop. A send cancelled meanwhile leaves its session to the
            # worker thread and never gets it back: its state is unknown, so it must not be reused anyway.
            kept = await asyncio.to_thread(self._send_blocking, session, sender, recipient, message)
            self._idle.append(kept)

    async def close(self) -> None:
        """QUIT the idle sessions (the server logs a clean goodbye instead of a dropped connection)."""
        idle, self._idle = self._idle, []
        for session in idle:
            await asyncio.to_thread(_quit, session)

    def _send_blocking(self, smtp: smtplib.SMTP | None, sender: str, recipient: str, message: bytes) -> smtplib.SMTP:
        """Send on `smtp` (or a new session) and return the session to keep; on any failure it is closed."""
        smtp = self._checked(smtp)
        try:
            smtp.sendmail(sender, [recipient], message)
        except smtplib.SMTPRecipientsRefused as exc:
            _drop(smtp)  # refusals are rare: a fresh session next time costs one EHLO, a doubtful one more
            raise DeliveryRejected("all recipients refused") from exc
        except smtplib.SMTPResponseException as exc:
            _drop(smtp)
            if exc.smtp_code >= 500:
                raise DeliveryRejected(f"refused with {exc.smtp_code}") from exc
            raise  # 4xx: the server asks us to come back later (an OSError: a dependency failure)
        except BaseException:
            _drop(smtp)  # the session's state is unknown: never reuse it
            raise
        return smtp

    def _checked(self, smtp: smtplib.SMTP | None) -> smtplib.SMTP:
        """`smtp` if the server still answers on it (a NOOP: nothing is sent twice), else a new session."""
        if smtp is not None:
            try:
                smtp.noop()
            except (smtplib.SMTPException, OSError):
                _drop(smtp)
            else:
                return smtp
        return smtplib.SMTP(self._host, self._port, timeout=self._timeout)


# The name the sender's wiring and its tests know. The sender sends one delivery at a time, so it keeps using
# a single session of the pool, as before.
SmtpMailer = SmtpPool


def _drop(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(smtplib.SMTPException, OSError):
        smtp.close()


def _quit(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(smtplib.SMTPException, OSError):
        smtp.quit()
    _drop(smtp)
