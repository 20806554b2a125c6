"""Citizens hear about their reports, against the real PostgreSQL, a real SMTP server and the local SMS/push
gateway: from the sealed contact to the message, once per event, recipient and channel, nothing in clear."""

from __future__ import annotations

import asyncio
import email
import json
import mailbox
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from notify import repository
from notify.channels import Channel, EmailChannel, PushChannel, SmsChannel
from notify.config import Settings
from notify.consumers import AGENCY_EMAIL, DEADLINES, PREFERENCES, RECEIVED, subscriptions
from notify.digests import DigestWorker
from notify.gateway import Gateway
from notify.mailer import SmtpPool
from notify.sender import DeliverySender
from notify.sink import MaildirRecorder
from paht_shared.consumer import handle_once
from paht_shared.contracts import (
    NotificationPreferencesV1,
    ReportDeadlineV1,
    ReportStatus,
    ReportStatusChangedV1,
    ReportSubmittedV1,
    topics,
)
from paht_shared.db import create_pool
from paht_shared.envelope import Envelope
from paht_shared.sealing import generate_keypair, seal
from paht_shared.testing import pii
from paht_shared.testing.ports import free_port

PRIVATE, PUBLIC = generate_keypair()
SETTINGS = Settings(contact_private_key=PRIVATE, sender_retry_backoff_seconds=0.01, portal_url="http://paht.test")
SMS_KEY, PUSH_SECRET = "sms-key", "push-secret"


@pytest.fixture
async def pool(admin_dsn: str, service_schema: Callable[[str], Awaitable[str]]) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(admin_dsn, await service_schema("notify"))
    yield pool
    await pool.close()


@pytest.fixture
def mail(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    port = free_port()
    controller = Controller(MaildirRecorder(tmp_path / "mail"), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, tmp_path / "mail"
    controller.stop()


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[tuple[Gateway, str]]:
    recorder = Gateway(tmp_path / "gateway", SMS_KEY, PUSH_SECRET)
    runner = web.AppRunner(recorder.app())
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield recorder, f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def channels(mail: tuple[int, Path], gateway: tuple[Gateway, str]) -> AsyncIterator[dict[str, Channel]]:
    async with aiohttp.ClientSession() as session:
        yield {
            "email": EmailChannel(SmtpPool("127.0.0.1", mail[0], 5), "no-reply@paht.example"),
            "sms": SmsChannel(session, f"{gateway[1]}/sms", SMS_KEY, "PAHT"),
            "push": PushChannel(session, f"{gateway[1]}/push", PUSH_SECRET),
        }


def submitted(report_id: uuid.UUID, contact: Mapping[str, object] | None) -> Envelope:
    sealed = None
    if contact is not None:
        sealed = seal(PUBLIC, json.dumps(contact).encode(), b"paht-contact:" + str(report_id).encode())
    report = ReportSubmittedV1(
        report_id=report_id,
        tracking_code="PA-CTZN2345",
        channel="web",
        category="cap-thoat-nuoc",
        title="Cống bị nghẹt",
        ward_code="31507",
        submitted_at=datetime.now(UTC),
        public=True,
        anonymous=True,
        contact_sealed=sealed,
    )
    return Envelope.of(report, "intake", "c")


def changed(
    report_id: uuid.UUID, sequence: int, status: ReportStatus, message: str | None = None, emergency: bool = False
) -> Envelope:
    change = ReportStatusChangedV1(
        report_id=report_id,
        sequence=sequence,
        status=status,
        changed_at=datetime.now(UTC),
        tracking_code="PA-CTZN2345",
        title="Cống bị nghẹt",
        category="cap-thoat-nuoc",
        agency_code="CAP-NUOC",
        agency_name="Công ty Cấp nước",
        agency_email="capnuoc@paht.example",
        due_at=datetime.now(UTC) + timedelta(days=5),
        message=message,
        note="ghi chú nội bộ: đã gọi ông Tư",
        emergency=emergency,
    )
    return Envelope.of(change, "routing", "c")


async def consume(pool: asyncpg.Pool, name: str, topic: str, event: Envelope) -> bool:
    subscription = next(s for s in subscriptions(SETTINGS) if s.name == name)
    return await handle_once(pool, name, event, topic, subscription.handle)


CONTACT: dict[str, object] = {
    "email": pii.EMAIL,
    "phone": "+84" + pii.PHONE[1:],
    "push_token": None,
    "channels": {"email": True, "sms": True, "push": False},
}


async def test_received_then_answered_reach_the_citizen_once_on_each_chosen_channel(
    pool: asyncpg.Pool, channels: dict[str, Channel], mail: tuple[int, Path], gateway: tuple[Gateway, str]
) -> None:
    """An anonymous reporter who gave an email and a phone: 'received' and 'answered' arrive by email (To: their
    address, with the tracking code and the answer) and by SMS (code and link, not the answer); a redelivered
    event sends nothing more; the internal note never appears; no address is stored in clear."""
    report_id = uuid.uuid4()
    first = submitted(report_id, CONTACT)
    assert await consume(pool, RECEIVED, topics.REPORT_SUBMITTED, first)
    answer = "Công ty đã nạo vét cống, nước đã thoát. Xin cảm ơn."
    answered = changed(report_id, 2, ReportStatus.ANSWERED, answer)
    assert await consume(pool, AGENCY_EMAIL, topics.REPORT_STATUS_CHANGED, answered)
    assert not await consume(pool, AGENCY_EMAIL, topics.REPORT_STATUS_CHANGED, answered)  # redelivered: skipped
    again = Envelope(**{**answered.model_dump(), "event_id": answered.event_id})
    assert not await consume(pool, AGENCY_EMAIL, topics.REPORT_STATUS_CHANGED, again)
    rows = await pool.fetch("SELECT channel, audience, recipient, message FROM deliveries ORDER BY created_at")
    assert sorted((r["channel"], r["audience"]) for r in rows) == [
        ("email", "citizen"), ("email", "citizen"), ("sms", "citizen"), ("sms", "citizen"),
    ]  # fmt: skip
    stored = " ".join(f"{r['recipient']} {bytes(r['message']).decode()}" for r in rows)
    stored += " ".join(str(r["sealed"]) for r in await pool.fetch("SELECT sealed FROM contacts"))
    assert pii.find_leaks(stored) == []
    # the bodies too are sealed at rest: what a citizen is sent (an emailed report's secret) is theirs alone
    assert all(bytes(r["message"]).startswith(b"sealed:") for r in rows)
    assert "PA-CTZN2345" not in stored
    assert answer not in stored

    sender = DeliverySender(pool, channels, SETTINGS)
    assert await sender.send_due() == 4
    await asyncio.sleep(0.2)
    emails = list(mailbox.Maildir(str(mail[1]), create=True))
    assert sorted(m["To"] for m in emails) == [pii.EMAIL, pii.EMAIL]
    assert all("paht@soctrang.gov.vn" in m["Reply-To"] for m in emails)  # replies reach intake's listener
    bodies = [bytes(m.get_payload(decode=True)).decode() for m in emails]
    assert any(answer in b for b in bodies)
    assert all("PA-CTZN2345" in b and "ông Tư" not in b for b in bodies)
    sms = gateway[0].recorded("sms")
    assert [s["to"] for s in sms] == [CONTACT["phone"], CONTACT["phone"]]
    assert all("PA-CTZN2345" in s["text"] and answer not in s["text"] for s in sms)
    assert await sender.send_due() == 0


async def test_opting_out_of_sms_stops_the_sms_only(pool: asyncpg.Pool) -> None:
    """After the reporter turns SMS off, the next change reaches them by email only."""
    report_id = uuid.uuid4()
    await consume(pool, RECEIVED, topics.REPORT_SUBMITTED, submitted(report_id, CONTACT))
    choice = NotificationPreferencesV1(
        report_id=report_id,
        tracking_code="PA-CTZN2345",
        email=True,
        sms=False,
        push=False,
        changed_at=datetime.now(UTC),
    )
    await consume(pool, PREFERENCES, topics.REPORT_CITIZEN_ACTIONS, Envelope.of(choice, "intake", "c"))
    await consume(
        pool, AGENCY_EMAIL, topics.REPORT_STATUS_CHANGED, changed(report_id, 2, ReportStatus.REJECTED, "Trùng.")
    )
    kinds = await pool.fetch("SELECT kind, channel FROM deliveries WHERE kind = 'citizen.rejected'")
    assert [(r["kind"], r["channel"]) for r in kinds] == [("citizen.rejected", "email")]


async def test_without_a_sealed_contact_or_the_key_the_citizen_is_not_told(pool: asyncpg.Pool) -> None:
    """No contact sealed (intake without notify's key): nothing for the citizen, the agency still hears."""
    report_id = uuid.uuid4()
    await consume(pool, RECEIVED, topics.REPORT_SUBMITTED, submitted(report_id, None))
    await consume(pool, AGENCY_EMAIL, topics.REPORT_STATUS_CHANGED, changed(report_id, 1, ReportStatus.ASSIGNED))
    rows = await pool.fetch("SELECT audience, recipient FROM deliveries")
    assert [(r["audience"], r["recipient"]) for r in rows] == [("agency", "capnuoc@paht.example")]


async def test_the_agency_hears_of_a_deadline_near_and_past(pool: asyncpg.Pool) -> None:
    """report.deadline due_soon and overdue each become one email to the agency, saying which."""
    report_id = uuid.uuid4()
    for kind in ("due_soon", "overdue"):
        notice = ReportDeadlineV1(
            report_id=report_id, tracking_code="PA-CTZN2345", category="cap-thoat-nuoc", kind=kind,
            agency_code="CAP-NUOC", agency_name="Công ty Cấp nước", agency_email="capnuoc@paht.example",
            due_at=datetime.now(UTC), escalated_to="VP-UBND" if kind == "overdue" else None, at=datetime.now(UTC),
        )  # fmt: skip
        await consume(pool, DEADLINES, topics.REPORT_DEADLINES, Envelope.of(notice, "routing", "c"))
    rows = await pool.fetch("SELECT kind, recipient, subject FROM deliveries ORDER BY created_at")
    assert [(r["kind"], r["recipient"]) for r in rows] == [
        ("agency.due_soon", "capnuoc@paht.example"),
        ("agency.overdue", "capnuoc@paht.example"),
    ]
    assert "quá hạn" in rows[1]["subject"]


async def test_a_gateway_away_for_a_while_gets_the_sms_later_once(
    pool: asyncpg.Pool, channels: dict[str, Channel], gateway: tuple[Gateway, str]
) -> None:
    """The SMS gateway answers 503 twice: the delivery waits (backoff with jitter) and arrives once after."""
    recorder, _url = gateway
    report_id = uuid.uuid4()
    await consume(pool, RECEIVED, topics.REPORT_SUBMITTED, submitted(report_id, {**CONTACT, "email": None}))
    recorder.fail_next = 2
    sender = DeliverySender(pool, channels, SETTINGS.model_copy(update={"sender_retry_backoff_seconds": 0.05}))
    for _ in range(40):
        await sender.send_due()
        if recorder.recorded("sms"):
            break
        await asyncio.sleep(0.1)
    assert recorder.fail_next == 0  # the outage happened: both 503s were answered
    assert len(recorder.recorded("sms")) == 1
    assert await pool.fetchval("SELECT status FROM deliveries") == "sent"
    assert await pool.fetchval("SELECT attempts FROM deliveries") == 3


async def test_an_agency_on_hourly_digests_gets_one_email_per_hour(pool: asyncpg.Pool) -> None:
    """Hourly: two new assignments wait (no email each); at the top of the next hour one digest delivery lists
    both; running the pass again, or in another process, records nothing more; overdue still goes at once."""
    async with pool.acquire() as conn:
        await repository.set_agency_mode(conn, "CAP-NUOC", "hourly")
    first, second = uuid.uuid4(), uuid.uuid4()
    for report_id in (first, second):
        await consume(pool, AGENCY_EMAIL, topics.REPORT_STATUS_CHANGED, changed(report_id, 1, ReportStatus.ASSIGNED))
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 0
    assert await pool.fetchval("SELECT count(*) FROM digest_items") == 2
    worker = DigestWorker(pool, SETTINGS)
    assert await worker.send_due(datetime.now(UTC)) == 0  # this hour's items wait for the next hour
    next_hour = datetime.now(UTC) + timedelta(hours=1)
    assert await worker.send_due(next_hour) == 1
    assert await worker.send_due(next_hour) == 0
    [digest] = await pool.fetch("SELECT kind, recipient, message FROM deliveries")
    assert (digest["kind"], digest["recipient"]) == ("agency.digest", "capnuoc@paht.example")
    text = email.message_from_bytes(bytes(digest["message"])).get_payload(decode=True)
    assert bytes(text).decode().count("PA-CTZN2345") == 2  # both reports, one line each
    overdue = ReportDeadlineV1(
        report_id=first, tracking_code="PA-CTZN2345", category="cap-thoat-nuoc", kind="overdue",
        agency_code="CAP-NUOC", agency_name="Công ty Cấp nước", agency_email="capnuoc@paht.example",
        due_at=datetime.now(UTC), escalated_to="VP-UBND", at=datetime.now(UTC),
    )  # fmt: skip
    await consume(pool, DEADLINES, topics.REPORT_DEADLINES, Envelope.of(overdue, "routing", "c"))
    assert await pool.fetchval("SELECT count(*) FROM deliveries WHERE kind = 'agency.overdue'") == 1


async def test_an_emergency_is_never_held_for_an_agencys_digest(pool: asyncpg.Pool) -> None:
    """An agency on hourly digests still gets a hotline emergency's assignment at once, marked khẩn cấp;
    an ordinary assignment beside it waits for the digest."""
    async with pool.acquire() as conn:
        await repository.set_agency_mode(conn, "CAP-NUOC", "hourly")
    urgent = changed(uuid.uuid4(), 1, ReportStatus.ASSIGNED, emergency=True)

    await consume(pool, AGENCY_EMAIL, topics.REPORT_STATUS_CHANGED, urgent)
    await consume(pool, AGENCY_EMAIL, topics.REPORT_STATUS_CHANGED, changed(uuid.uuid4(), 1, ReportStatus.ASSIGNED))

    [delivery] = await pool.fetch("SELECT kind, recipient, subject, message FROM deliveries")
    assert (delivery["kind"], delivery["recipient"]) == ("agency.assigned", "capnuoc@paht.example")
    assert "[KHẨN CẤP]" in delivery["subject"]
    assert await pool.fetchval("SELECT count(*) FROM digest_items") == 1
