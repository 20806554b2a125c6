"""The agency email through a real SMTP server (the development sink) into a Maildir."""

from __future__ import annotations

import asyncio
import email
import mailbox
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from aiosmtpd.controller import Controller

from notify.config import Settings
from notify.consumers import subscriptions
from notify.mailer import SmtpMailer
from notify.sink import MaildirRecorder
from paht_shared.consumer import Handler, handle_once
from paht_shared.contracts import ReportStatus, ReportStatusChangedV1
from paht_shared.db import create_pool
from paht_shared.envelope import Envelope


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def pool(admin_dsn: str, service_schema: Callable[[str], Awaitable[str]]) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(admin_dsn, await service_schema("notify"))
    yield pool
    await pool.close()


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    port = free_port()
    folder = tmp_path / "mail"
    controller = Controller(MaildirRecorder(folder), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, folder
    controller.stop()


def status_event(status: ReportStatus) -> Envelope:
    change = ReportStatusChangedV1(
        report_id=uuid.uuid4(),
        sequence=1,
        status=status,
        changed_at=datetime.now(UTC),
        tracking_code="PA-ABCD2345",
        title="Cống bị nghẹt",
        category="cap-thoat-nuoc",
        ward_code="31507",
        agency_code="CAP-NUOC",
        agency_name="Công ty Cấp nước",
        agency_email="capnuoc@paht.example",
        due_at=datetime.fromisoformat("2026-12-04T17:00:00+07:00"),
    )
    return Envelope.of(change, "routing", "c")


def notifier(port: int, timeout: float = 5) -> Handler:
    (subscription,) = subscriptions(Settings(), SmtpMailer("127.0.0.1", port, timeout))
    return subscription.handle


async def test_assigned_report_emails_the_agency_once(pool: asyncpg.Pool, sink: tuple[int, Path]) -> None:
    """One email to the agency with the report's code; a redelivered event sends nothing more."""
    port, folder = sink
    handle = notifier(port)
    event = status_event(ReportStatus.ASSIGNED)
    assert await handle_once(pool, "notify.agency_email", event, "t", handle)
    assert not await handle_once(pool, "notify.agency_email", event, "t", handle)
    await asyncio.sleep(0.1)
    messages = list(mailbox.Maildir(str(folder)))
    assert len(messages) == 1
    msg = messages[0]
    assert msg["To"] == "capnuoc@paht.example"
    assert msg["X-PAHT-Report-Id"] == event.data["report_id"]
    subject = str(email.header.make_header(email.header.decode_header(msg["Subject"])))
    assert "PA-ABCD2345" in subject
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 1
    sent = await pool.fetch("SELECT topic FROM outbox")
    assert [r["topic"] for r in sent] == ["notification.sent.v1"]


async def test_other_statuses_send_nothing(pool: asyncpg.Pool, sink: tuple[int, Path]) -> None:
    """Only `assigned` concerns the agency for now."""
    port, folder = sink
    handle = notifier(port)
    await handle_once(pool, "notify.agency_email", status_event(ReportStatus.RECEIVED), "t", handle)
    assert list(mailbox.Maildir(str(folder), create=True)) == []
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 0


async def test_smtp_failure_rolls_back_the_delivery(pool: asyncpg.Pool) -> None:
    """If the mail server is down nothing is recorded, so the consumer's retry sends it later."""
    handle = notifier(free_port(), 2)
    with pytest.raises(ConnectionRefusedError):
        await handle_once(pool, "notify.agency_email", status_event(ReportStatus.ASSIGNED), "t", handle)
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 0
    assert await pool.fetchval("SELECT count(*) FROM inbox") == 0
