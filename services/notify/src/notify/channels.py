"""Notify's delivery channels behind one interface: email (SMTP), SMS (an HTTP gateway), push (the app's webhook).

Each channel answers a send in one of three ways the sender can act on: it returns (the provider accepted the
message), raises `Rejected` (refused for good: a person must look) or `Unavailable` (nothing went through
that we know of: try again later). A send that timed out may still have gone through; the HTTP channels
carry the delivery id as the idempotency key, so the provider drops the repeat of a resend.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Literal, Protocol

import aiohttp
from aiolimiter import AsyncLimiter

from notify import sms
from notify.mailer import DeliveryRejected, Mailer

ChannelName = Literal["email", "sms", "push"]


@dataclass(frozen=True)
class Outgoing:
    """One message to hand to a channel."""

    delivery_id: uuid.UUID  # also the idempotency key a gateway sees (a resend after a crash carries the same)
    channel: ChannelName
    recipient: str  # email address, E.164 phone, or app device token
    subject: str | None  # email only
    body: bytes  # email: the complete RFC 5322 message (CRLF); sms/push: UTF-8 text (push: JSON title/body/data)


class Rejected(Exception):
    """Refused for good (5xx from a mail server, a 4xx other than 429 from a gateway): a person must look."""


class Unavailable(Exception):
    """Try again later: connection refused or timed out, a 5xx or 429 from a gateway."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after  # seconds the provider asked us to wait (Retry-After), if it said


class Channel(Protocol):
    name: ChannelName

    async def send(self, message: Outgoing) -> None:
        """Hand `message` to the provider; returns once accepted, else raises `Rejected` or `Unavailable`."""
        ...


class EmailChannel:
    """Email through a mail server (an `SmtpPool`: a few reused sessions)."""

    name: ChannelName = "email"

    def __init__(self, mailer: Mailer, sender_address: str) -> None:
        self._mailer = mailer
        self._sender_address = sender_address  # the envelope sender (MAIL FROM), a bare address

    async def send(self, message: Outgoing) -> None:
        try:
            await self._mailer.send(self._sender_address, message.recipient, message.body)
        except DeliveryRejected as exc:
            raise Rejected(str(exc)) from exc
        except OSError as exc:  # refused, reset, timed out, or a 4xx (smtplib's errors are OSErrors)
            raise Unavailable(f"mail server: {type(exc).__name__}") from exc


class SmsChannel:
    """SMS through an HTTP gateway: POST JSON with a bearer token; the gateway bills per segment."""

    name: ChannelName = "sms"

    def __init__(
        self, session: aiohttp.ClientSession, url: str, api_key: str, sender_id: str, timeout: float = 10.0
    ) -> None:
        self._session = session
        self._url = url
        self._api_key = api_key
        self._sender_id = sender_id  # the brand name shown as the sender, registered with the operators
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def send(self, message: Outgoing) -> None:
        text = message.body.decode()
        encoding, count = sms.segments(text)
        payload = {
            "to": message.recipient,
            "sender_id": self._sender_id,
            "text": text,
            "idempotency_key": str(message.delivery_id),
            "encoding": encoding,
            "segments": count,
        }
        headers = {"Authorization": f"Bearer {self._api_key}"}
        await _post(self._session, self._url, _json_bytes(payload), headers, self._timeout, "sms gateway")


class PushChannel:
    """Push notifications through the app backend's webhook, the body signed with a shared secret (HMAC)."""

    name: ChannelName = "push"

    def __init__(self, session: aiohttp.ClientSession, url: str, secret: str, timeout: float = 10.0) -> None:
        self._session = session
        self._url = url
        self._secret = secret.encode()
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def send(self, message: Outgoing) -> None:
        try:
            content = json.loads(message.body)
            title, body, data = content["title"], content["body"], content.get("data", {})
        except (ValueError, KeyError, TypeError) as exc:
            raise Rejected("push body must be JSON with title, body and optional data") from exc
        payload = {
            "device_token": message.recipient,
            "title": title,
            "body": body,
            "data": data,
            "idempotency_key": str(message.delivery_id),
        }
        raw = _json_bytes(payload)
        # Signed over the exact bytes sent: the backend checks them before parsing anything.
        headers = {"X-PAHT-Signature": "sha256=" + hmac.new(self._secret, raw, hashlib.sha256).hexdigest()}
        await _post(self._session, self._url, raw, headers, self._timeout, "push webhook")


class RateLimited:
    """Any channel held to a provider's rate: at most `max_rate` sends in any `time_period` seconds."""

    def __init__(self, channel: Channel, max_rate: float, time_period: float = 1.0) -> None:
        self.name: ChannelName = channel.name
        self._channel = channel
        # A bucket of one, refilled every period/rate: sends are spaced evenly. A bucket of `max_rate` would let
        # a burst of max_rate go at once and then max_rate - 1 more within the same second — nearly twice a
        # provider's "N per second", which it answers with 429s.
        self._limiter = AsyncLimiter(1, time_period / max_rate)

    async def send(self, message: Outgoing) -> None:
        async with self._limiter:
            await self._channel.send(message)


def _json_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


async def _post(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: dict[str, str],
    time_limit: aiohttp.ClientTimeout,
    provider: str,
) -> None:
    """POST `body` and map the answer: 2xx returns; 429 and 5xx → Unavailable; any other status → Rejected."""
    try:
        async with session.post(
            url, data=body, headers={**headers, "Content-Type": "application/json"}, timeout=time_limit
        ) as response:
            if 200 <= response.status < 300:
                return
            detail = (await response.text())[:200]
            if response.status == 429 or response.status >= 500:
                raise Unavailable(f"{provider}: {response.status}", _retry_after(response.headers))
            raise Rejected(f"{provider}: {response.status} {detail}".rstrip())
    except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError) as exc:
        raise Unavailable(f"{provider}: {type(exc).__name__}") from exc


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date (RFC 9110); None when absent or bad."""
    value = headers.get("Retry-After")
    if value is None:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
