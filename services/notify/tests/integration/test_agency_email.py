"""The agency email through a real SMTP server (the development sink) into a Maildir."""

from __future__ import annotations

import asyncio
import email
import mailbox
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiosmtpd.controller import Controller

from notify import repository
from notify.channels import Channel, EmailChannel
from notify.config import Settings
from notify.consumers import AGENCY_EMAIL, subscriptions
from notify.mailer import Mailer, SmtpMailer
from notify.operator import deliveries
from notify.sender import DeliverySender
from notify.sink import MaildirRecorder
from paht_shared.consumer import handle_once
from paht_shared.contracts import NotificationSentV1, ReportStatus, ReportStatusChangedV1, topics
from paht_shared.db import create_pool
from paht_shared.envelope import Envelope
from paht_shared.testing.ports import free_port


def email_only(mailer: Mailer) -> dict[str, Channel]:
    return {"email": EmailChannel(mailer, "no-reply@paht.example")}


@pytest.fixture
async def pool(admin_dsn: str, service_schema: Callable[[str], Awaitable[str]]) -> AsyncIterator[asyncpg.Pool]:
    # one connection: the fault test below kills it and watches the sender get a new one
    pool = await create_pool(admin_dsn, await service_schema("notify"), min_size=1, max_size=1)
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


def status_event(status: ReportStatus, title: str = "Cống bị nghẹt") -> Envelope:
    change = ReportStatusChangedV1(
        report_id=uuid.uuid4(),
        sequence=1,
        status=status,
        changed_at=datetime.now(UTC),
        tracking_code="PA-ABCD2345",
        title=title,
        category="cap-thoat-nuoc",
        ward_code="31507",
        agency_code="CAP-NUOC",
        agency_name="Công ty Cấp nước",
        agency_email="capnuoc@paht.example",
        due_at=datetime.fromisoformat("2026-12-04T17:00:00+07:00"),
    )
    return Envelope.of(change, "routing", "c")


SETTINGS = Settings(sender_retry_backoff_seconds=0.01)


async def record(pool: asyncpg.Pool, event: Envelope) -> bool:
    """What the consumer does with a status event: the delivery, recorded in the inbox transaction."""
    subscription = next(s for s in subscriptions(SETTINGS) if s.name == AGENCY_EMAIL)
    return await handle_once(pool, AGENCY_EMAIL, event, topics.REPORT_STATUS_CHANGED, subscription.handle)


def emails(folder: Path) -> list[mailbox.MaildirMessage]:
    return list(mailbox.Maildir(str(folder), create=True))


async def test_assigned_report_emails_the_agency_once(pool: asyncpg.Pool, sink: tuple[int, Path]) -> None:
    """One delivery per event (a redelivery records nothing); the sender sends it once and says so on Kafka."""
    port, folder = sink
    event = status_event(ReportStatus.ASSIGNED)
    assert await record(pool, event)
    assert not await record(pool, event)
    assert await pool.fetchval("SELECT status FROM deliveries") == "pending"
    assert emails(folder) == []  # recording sends nothing: the mail server is the sender's business

    sender = DeliverySender(pool, email_only(SmtpMailer("127.0.0.1", port, 5)), SETTINGS)
    assert await sender.send_due() == 1
    assert await sender.send_due() == 0
    await asyncio.sleep(0.1)
    (msg,) = emails(folder)
    assert msg["To"] == "capnuoc@paht.example"
    assert msg["X-PAHT-Report-Id"] == event.data["report_id"]
    assert msg["Message-ID"] == f"<{event.event_id}@paht.notify>"
    subject = str(email.header.make_header(email.header.decode_header(msg["Subject"])))
    assert "PA-ABCD2345" in subject
    row = await pool.fetchrow("SELECT status, attempts, sent_at FROM deliveries")
    assert (row["status"], row["attempts"]) == ("sent", 1)
    assert row["sent_at"] is not None
    (sent,) = await pool.fetch("SELECT topic, payload FROM outbox")
    assert sent["topic"] == "notification.sent.v1"
    envelope = Envelope.from_bytes(bytes(sent["payload"]))
    assert NotificationSentV1.model_validate(envelope.data).report_id == uuid.UUID(event.data["report_id"])
    assert (envelope.causation_id, envelope.correlation_id) == (str(event.event_id), "c")


async def test_other_statuses_send_nothing(pool: asyncpg.Pool) -> None:
    """Only `assigned` concerns the agency for now."""
    await record(pool, status_event(ReportStatus.RECEIVED))
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 0


async def test_mail_server_away_puts_the_delivery_back_and_it_goes_out_once_later(
    pool: asyncpg.Pool, sink: tuple[int, Path]
) -> None:
    """A refused connection sent nothing: pending again with the reason, the sender red-flags itself; then sent once."""
    port, folder = sink
    await record(pool, status_event(ReportStatus.ASSIGNED))
    away = DeliverySender(pool, email_only(SmtpMailer("127.0.0.1", free_port(), 2)), SETTINGS)
    assert await away.send_due() == 1
    row = await pool.fetchrow("SELECT status, attempts, last_error FROM deliveries")
    assert dict(row) == {"status": "pending", "attempts": 1, "last_error": "ConnectionRefusedError"}
    assert away.retrying_since is not None  # what /readyz looks at
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0

    await asyncio.sleep(0.1)  # past the (tiny) pause
    back = DeliverySender(pool, email_only(SmtpMailer("127.0.0.1", port, 5)), SETTINGS)
    assert await back.send_due() == 1
    await asyncio.sleep(0.1)
    assert len(emails(folder)) == 1
    assert await pool.fetchval("SELECT status FROM deliveries") == "sent"
    assert back.retrying_since is None


class KillsTheDatabaseConnectionAfterSending:
    """A mail server that accepts, and then the sender's database connection dies before it records that."""

    def __init__(self, mailer: Mailer, admin_dsn: str, pid: int) -> None:
        self._mailer = mailer
        self._admin_dsn = admin_dsn
        self._pid = pid
        self.killed = False

    async def send(self, sender: str, recipient: str, message: bytes) -> None:
        await self._mailer.send(sender, recipient, message)
        conn = await asyncpg.connect(self._admin_dsn)
        try:
            self.killed = bool(await conn.fetchval("SELECT pg_terminate_backend($1)", self._pid))
        finally:
            await conn.close()


async def test_a_database_failure_after_the_send_does_not_send_again(
    pool: asyncpg.Pool, sink: tuple[int, Path], admin_dsn: str
) -> None:
    """The mail server accepted, then the database connection died: the sender records `sent` on a new
    connection; the message is not sent a second time (it used to be: the whole handler ran again)."""
    port, folder = sink
    await record(pool, status_event(ReportStatus.ASSIGNED))
    async with pool.acquire() as conn:
        pid = conn.get_server_pid()
    mailer = KillsTheDatabaseConnectionAfterSending(SmtpMailer("127.0.0.1", port, 5), admin_dsn, pid)
    sender = DeliverySender(pool, email_only(mailer), SETTINGS)
    assert await sender.send_due() == 1
    assert mailer.killed  # the fault happened, between the send and its record
    async with pool.acquire() as conn:
        assert conn.get_server_pid() != pid  # the sender had to reconnect to record the outcome
    assert await sender.send_due() == 0
    await asyncio.sleep(0.1)
    assert len(emails(folder)) == 1
    assert await pool.fetchval("SELECT status FROM deliveries") == "sent"
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 1


async def test_a_delivery_its_sender_abandoned_mid_send_goes_again_with_the_same_message_id(
    pool: asyncpg.Pool, sink: tuple[int, Path]
) -> None:
    """Claimed and handed to the mail server, then the sender died before recording it (the row is still
    `sending`): the survivor sends it again with the same Message-ID (the mail system can drop the
    duplicate), and the delivery log shows one delivery, sent."""
    port, folder = sink
    await record(pool, status_event(ReportStatus.ASSIGNED))
    async with pool.acquire() as conn, conn.transaction():
        (claimed,) = await repository.claim_due(conn, 10, uuid.uuid4())
    await SmtpMailer("127.0.0.1", port, 5).send("no-reply@paht.example", claimed.recipient, claimed.message)
    assert await pool.fetchval("SELECT status FROM deliveries") == "sending"  # sent, and then the process died
    survivor = DeliverySender(pool, email_only(SmtpMailer("127.0.0.1", port, 5)), Settings(sender_abandoned_seconds=0))
    await survivor._expire_abandoned()
    assert await survivor.send_due() == 1
    await asyncio.sleep(0.1)
    arrived = emails(folder)
    assert [m["Message-ID"] for m in arrived] == [claimed.message_id, claimed.message_id]
    rows = await pool.fetch("SELECT id, status FROM deliveries")
    assert [(r["id"], r["status"]) for r in rows] == [(claimed.id, "sent")]


async def test_a_long_message_goes_through_a_real_smtp_server(pool: asyncpg.Pool, sink: tuple[int, Path]) -> None:
    """Over 1,000 bytes (a long Vietnamese title): sent with CRLF line ends, or aiosmtpd refuses it as one line."""
    port, folder = sink
    await record(pool, status_event(ReportStatus.ASSIGNED, title="Ngập úng kéo dài trên đường " * 7))
    assert len(await pool.fetchval("SELECT message FROM deliveries")) > 1000
    assert await DeliverySender(pool, email_only(SmtpMailer("127.0.0.1", port, 5)), SETTINGS).send_due() == 1
    assert await pool.fetchval("SELECT status FROM deliveries") == "sent"
    await asyncio.sleep(0.1)
    assert len(emails(folder)) == 1


async def test_a_claim_whose_commit_answer_was_lost_is_sent_once_by_its_sender(
    pool: asyncpg.Pool, sink: tuple[int, Path]
) -> None:
    """The claim committed but its answer never came back (the connection died in COMMIT): the sender looks its
    claim up afterwards and sends what it holds, once — instead of leaving it to become `unknown`."""
    port, folder = sink
    await record(pool, status_event(ReportStatus.ASSIGNED))
    sender = DeliverySender(pool, email_only(SmtpMailer("127.0.0.1", port, 5)), SETTINGS)
    lost = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        await repository.claim_due(conn, 10, lost)  # committed; the sender is told nothing
    sender._unconfirmed_claims[None] = lost
    assert await sender.send_due() == 1
    assert await sender.send_due() == 0
    await asyncio.sleep(0.1)
    assert len(emails(folder)) == 1
    assert await pool.fetchval("SELECT status FROM deliveries") == "sent"


async def test_the_mailer_keeps_its_session_and_reconnects_when_the_server_went_away(tmp_path: Path) -> None:
    """Two messages share one SMTP session; after the server restarts, the next message opens a new one."""
    port = free_port()
    sessions: list[object] = []

    class CountingRecorder(MaildirRecorder):
        async def handle_EHLO(  # noqa: N802 - aiosmtpd's hook name
            self, server: object, session: Any, envelope: object, hostname: str, responses: list[str]
        ) -> list[str]:
            session.host_name = hostname  # a handler that takes over EHLO must say who greeted
            sessions.append(session)
            return responses

    def start() -> Controller:
        controller = Controller(CountingRecorder(tmp_path / "mail"), hostname="127.0.0.1", port=port)
        controller.start()
        return controller

    mailer = SmtpMailer("127.0.0.1", port, 5)
    message = b"Subject: x\r\nTo: a@paht.example\r\n\r\nx\r\n"
    controller = start()
    await mailer.send("no-reply@paht.example", "a@paht.example", message)
    await mailer.send("no-reply@paht.example", "a@paht.example", message)
    assert len(sessions) == 1
    controller.stop()  # the server goes away with our session open
    controller = start()
    try:
        await mailer.send("no-reply@paht.example", "a@paht.example", message)
    finally:
        controller.stop()
    assert len(sessions) == 2
    assert len(emails(tmp_path / "mail")) == 3


async def test_a_person_lists_unsettled_deliveries_and_sends_one_again(
    pool: asyncpg.Pool, sink: tuple[int, Path], admin_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m notify deliveries` shows the failed one; `--resend ID` queues it, and it goes out once."""
    port, folder = sink
    await record(pool, status_event(ReportStatus.ASSIGNED))
    async with pool.acquire() as conn, conn.transaction():
        (claimed,) = await repository.claim_due(conn, 10, uuid.uuid4())
        await repository.mark_failed(conn, claimed.id, "refused with 550")  # the mail server refused it for good
    sender = DeliverySender(pool, email_only(SmtpMailer("127.0.0.1", port, 5)), SETTINGS)
    settings = Settings(database_url=admin_dsn, db_schema=await pool.fetchval("SELECT current_schema()"))

    await deliveries(settings, [])
    listed = capsys.readouterr().out
    assert f"{claimed.id}  failed" in listed
    await deliveries(settings, ["--resend", str(claimed.id)])
    assert "queued 1 of 1" in capsys.readouterr().out
    assert await sender.send_due() == 1
    await asyncio.sleep(0.1)
    assert len(emails(folder)) == 1
    assert await pool.fetchval("SELECT status FROM deliveries") == "sent"
    capsys.readouterr()  # the sender's own log lines
    await deliveries(settings, [])
    assert str(claimed.id) not in capsys.readouterr().out  # settled: nothing left for a person


async def test_each_channel_claims_only_its_own_deliveries(pool: asyncpg.Pool, sink: tuple[int, Path]) -> None:
    """The sender runs one loop per channel: a claim for email takes no SMS, so a rate-held SMS gateway cannot
    hold back the emails (a batch waits for its slowest send)."""
    await record(pool, status_event(ReportStatus.ASSIGNED))
    await pool.execute("UPDATE deliveries SET channel = 'sms'")
    await record(pool, status_event(ReportStatus.ASSIGNED))
    async with pool.acquire() as conn, conn.transaction():
        emails_claimed = await repository.claim_due(conn, 10, uuid.uuid4(), "email")
        sms_claimed = await repository.claim_due(conn, 10, uuid.uuid4(), "sms")
    assert [d.channel for d in emails_claimed] == ["email"]
    assert [d.channel for d in sms_claimed] == ["sms"]
