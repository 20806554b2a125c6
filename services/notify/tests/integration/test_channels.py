"""The delivery channels against real servers: aiosmtpd for email, the development gateway for SMS and push."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from notify.channels import (
    Channel,
    ChannelName,
    EmailChannel,
    Outgoing,
    PushChannel,
    RateLimited,
    Rejected,
    SmsChannel,
    Unavailable,
)
from notify.gateway import Gateway
from notify.mailer import SmtpPool
from paht_shared.testing.ports import free_port

API_KEY = "test-sms-key"
WEBHOOK_KEY = "test-push-secret"
PHONE = "+84901234567"
DEVICE = "device-token-1"
SENDER = "no-reply@paht.example"


class SmtpServer:
    """An aiosmtpd handler that counts sessions (one EHLO each) and how many messages it receives at once."""

    def __init__(self, data_seconds: float = 0.0) -> None:
        self.data_seconds = data_seconds
        self.sessions = 0
        self.messages: list[bytes] = []
        self.receiving = 0
        self.peak_receiving = 0

    async def handle_EHLO(  # noqa: N802 - aiosmtpd's hook name
        self, _server: object, session: Any, _envelope: object, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # a handler that takes over EHLO must say who greeted
        self.sessions += 1
        return responses

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, _server: object, _session: object, envelope: Any, address: str, _options: list[str]
    ) -> str:
        if address.startswith("refused@"):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: object, _session: object, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.receiving += 1
        self.peak_receiving = max(self.peak_receiving, self.receiving)
        await asyncio.sleep(self.data_seconds)  # a slow server: concurrent sends overlap here
        self.receiving -= 1
        self.messages.append(bytes(envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"


def start_smtp(handler: SmtpServer) -> tuple[Controller, int]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpServer, int]]:
    handler = SmtpServer(data_seconds=0.05)
    controller, port = start_smtp(handler)
    yield handler, port
    controller.stop()


@contextlib.asynccontextmanager
async def running_gateway(folder: Path) -> AsyncIterator[tuple[Gateway, str]]:
    """The development gateway on a free port: it (to inject failures) and its base URL."""
    server = Gateway(folder, API_KEY, WEBHOOK_KEY)
    runner = web.AppRunner(server.app())
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[tuple[Gateway, str]]:
    async with running_gateway(tmp_path / "gateway") as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def email(recipient: str, subject: str = "Phản ánh PA-ABCD2345 đã được tiếp nhận") -> Outgoing:
    delivery_id = uuid.uuid4()
    body = (
        f"From: PAHT <{SENDER}>\r\nTo: {recipient}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{delivery_id}@paht.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nx\r\n"
    ).encode()
    return Outgoing(delivery_id, "email", recipient, subject, body)


def text_message(text: str, delivery_id: uuid.UUID | None = None, recipient: str = PHONE) -> Outgoing:
    return Outgoing(delivery_id or uuid.uuid4(), "sms", recipient, None, text.encode())


def push_message(delivery_id: uuid.UUID | None = None) -> Outgoing:
    content = {"title": "Phản ánh đã được xử lý", "body": "Cống đã được thông.", "data": {"tracking_code": "PA-1"}}
    return Outgoing(delivery_id or uuid.uuid4(), "push", DEVICE, None, json.dumps(content).encode())


async def recorded(http: aiohttp.ClientSession, base: str, kind: str) -> list[dict[str, Any]]:
    async with http.get(f"{base}/{kind}") as response:
        assert response.status == 200
        lines: list[dict[str, Any]] = await response.json()
        return lines


async def test_email_through_the_pool_arrives_once_per_send(smtp: tuple[SmtpServer, int]) -> None:
    """Three sends one after another: three messages, all over one reused session."""
    server, port = smtp
    pool = SmtpPool("127.0.0.1", port, 5, size=4)
    channel = EmailChannel(pool, SENDER)
    sent = [email(f"agency{i}@paht.example") for i in range(3)]
    for message in sent:
        await channel.send(message)
    await pool.close()
    assert sorted(message_from_bytes(m)["Message-ID"] for m in server.messages) == sorted(
        f"<{m.delivery_id}@paht.example>" for m in sent
    )
    assert server.sessions == 1


async def test_twenty_concurrent_sends_use_at_most_size_sessions(smtp: tuple[SmtpServer, int]) -> None:
    """20 sends at once to a slow server overlap, yet never open more than the pool's 4 connections."""
    server, port = smtp
    pool = SmtpPool("127.0.0.1", port, 5, size=4)
    channel = EmailChannel(pool, SENDER)
    await asyncio.gather(*(channel.send(email(f"agency{i}@paht.example")) for i in range(20)))
    await asyncio.gather(*(channel.send(email(f"again{i}@paht.example")) for i in range(8)))
    await pool.close()
    assert len(server.messages) == 28
    assert server.peak_receiving > 1  # they did run concurrently (a pool of one would pass the bound below)
    assert server.sessions <= 4


async def test_a_refused_recipient_is_rejected_and_the_pool_goes_on(smtp: tuple[SmtpServer, int]) -> None:
    """A 5xx to RCPT is Rejected (for good); the next message still goes through."""
    server, port = smtp
    channel = EmailChannel(SmtpPool("127.0.0.1", port, 5), SENDER)
    with pytest.raises(Rejected, match="refused"):
        await channel.send(email("refused@paht.example"))
    await channel.send(email("agency@paht.example"))
    assert len(server.messages) == 1


async def test_a_mail_server_that_is_away_is_unavailable() -> None:
    """A refused connection put nothing through: Unavailable, try again later."""
    channel = EmailChannel(SmtpPool("127.0.0.1", free_port(), 2), SENDER)
    with pytest.raises(Unavailable):
        await channel.send(email("agency@paht.example"))


async def test_an_sms_sent_twice_with_one_delivery_id_is_recorded_once(
    gateway: tuple[Gateway, str], http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """A resend carries the same idempotency key: the gateway answers 200 and keeps one, also after a restart."""
    _, base = gateway
    channel = SmsChannel(http, f"{base}/sms", API_KEY, "PAHT")
    message = text_message("Phản ánh PA-ABCD2345 đã được tiếp nhận.")
    await channel.send(message)
    await channel.send(message)
    (line,) = await recorded(http, base, "sms")
    assert line["to"] == PHONE
    assert line["text"] == "Phản ánh PA-ABCD2345 đã được tiếp nhận."
    assert line["idempotency_key"] == str(message.delivery_id)
    assert (line["encoding"], line["segments"], line["sender_id"]) == ("UCS-2", 1, "PAHT")
    async with running_gateway(tmp_path / "gateway") as (_, restarted):  # knows the key from its file
        await SmsChannel(http, f"{restarted}/sms", API_KEY, "PAHT").send(message)
        assert len(await recorded(http, restarted, "sms")) == 1


async def test_a_push_sent_twice_with_one_delivery_id_is_recorded_once(
    gateway: tuple[Gateway, str], http: aiohttp.ClientSession
) -> None:
    """The signed webhook call, repeated with the same delivery id, is recorded once with its fields."""
    _, base = gateway
    channel = PushChannel(http, f"{base}/push", WEBHOOK_KEY)
    message = push_message()
    await channel.send(message)
    await channel.send(message)
    await channel.send(push_message())
    first, second = await recorded(http, base, "push")
    assert first["device_token"] == DEVICE
    assert (first["title"], first["body"]) == ("Phản ánh đã được xử lý", "Cống đã được thông.")
    assert first["data"] == {"tracking_code": "PA-1"}
    assert first["idempotency_key"] == str(message.delivery_id)
    assert second["idempotency_key"] != first["idempotency_key"]


async def test_a_gateway_outage_is_unavailable_with_its_retry_after(
    gateway: tuple[Gateway, str], http: aiohttp.ClientSession
) -> None:
    """503 → Unavailable carrying Retry-After; once the gateway is back the same message goes through once."""
    server, base = gateway
    sms, push = SmsChannel(http, f"{base}/sms", API_KEY, "PAHT"), PushChannel(http, f"{base}/push", WEBHOOK_KEY)
    server.fail_next = 2
    message = text_message("Hello")
    with pytest.raises(Unavailable) as outage:
        await sms.send(message)
    assert outage.value.retry_after == 1.0
    with pytest.raises(Unavailable):
        await push.send(push_message())
    await sms.send(message)
    assert len(await recorded(http, base, "sms")) == 1
    assert await recorded(http, base, "push") == []


async def test_a_gateway_that_is_away_is_unavailable(http: aiohttp.ClientSession) -> None:
    """A refused connection: Unavailable (the idempotency key makes the later resend safe)."""
    channel = SmsChannel(http, f"http://127.0.0.1:{free_port()}/sms", API_KEY, "PAHT", timeout=2)
    with pytest.raises(Unavailable):
        await channel.send(text_message("Hello"))


async def test_a_bad_request_is_rejected(gateway: tuple[Gateway, str], http: aiohttp.ClientSession) -> None:
    """A number not in E.164 gets a 400: Rejected for good, with the gateway's reason, nothing recorded."""
    _, base = gateway
    channel = SmsChannel(http, f"{base}/sms", API_KEY, "PAHT")
    with pytest.raises(Rejected, match=r"400.*E\.164"):
        await channel.send(text_message("Hello", recipient="0901234567"))
    assert await recorded(http, base, "sms") == []


async def test_wrong_credentials_are_rejected(gateway: tuple[Gateway, str], http: aiohttp.ClientSession) -> None:
    """A wrong bearer token or HMAC secret gets a 401: Rejected (retrying cannot fix a key), nothing recorded."""
    _, base = gateway
    with pytest.raises(Rejected, match="401"):
        await SmsChannel(http, f"{base}/sms", "not-the-key", "PAHT").send(text_message("Hello"))
    with pytest.raises(Rejected, match="401"):
        await PushChannel(http, f"{base}/push", "not-the-secret").send(push_message())
    assert await recorded(http, base, "sms") == []
    assert await recorded(http, base, "push") == []


class Timed:
    """A channel that notes when each send reached it."""

    def __init__(self, channel: Channel) -> None:
        self.name: ChannelName = channel.name
        self._channel = channel
        self.started: list[float] = []

    async def send(self, message: Outgoing) -> None:
        self.started.append(time.monotonic())
        await self._channel.send(message)


async def test_the_rate_limiter_holds_a_burst_to_the_configured_rate(
    gateway: tuple[Gateway, str], http: aiohttp.ClientSession
) -> None:
    """10 sends at once under 5/s take at least 1.8 s, and no second ever holds more than 5 of them."""
    _, base = gateway
    timed = Timed(SmsChannel(http, f"{base}/sms", API_KEY, "PAHT"))
    limited = RateLimited(timed, max_rate=5, time_period=1.0)
    began = time.monotonic()
    await asyncio.gather(*(limited.send(text_message(f"Message {i}")) for i in range(10)))
    elapsed = time.monotonic() - began
    assert elapsed >= 1.75  # nine gaps of 0.2 s; the slack is the timer's resolution, not a speed allowance
    starts = sorted(timed.started)
    assert all(later - earlier >= 0.95 for earlier, later in zip(starts, starts[5:], strict=False))
    assert len(await recorded(http, base, "sms")) == 10
