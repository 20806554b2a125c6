"""Inbound email end to end: the real SMTP handler on a free port, intake's PostgreSQL schema, and the real media
API (in-process, on the real PostgreSQL and S3) taking the attachments. Mail is sent with smtplib.

Legacy bytes (TCVN3, Windows-1258) were produced by GNU libc's iconv, not by our tables.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import smtplib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestServer
from minio import Minio
from PIL import Image
from structlog.testing import capture_logs

from intake.config import Settings
from intake.mail.server import close_desk, open_desk, start_server
from media.app import build_app as build_media_app
from media.config import Settings as MediaSettings
from paht_shared.sealing import generate_keypair
from paht_shared.testing import pii

OURS = "paht@soctrang.gov.vn"
SENDER = pii.EMAIL  # this session's reporter: the personal-data scan after the tests looks for it too
NAME = pii.FULL_NAME

TITLE = "Cống thoát nước bị vỡ"
SENTENCE = "Đường Lê Lợi ngập nước sau cơn mưa, rác thải tồn đọng trước chợ Sóc Trăng"
# glibc iconv -f UTF-8 -t TCVN5712-1 / -t WINDOWS-1258 of TITLE and SENTENCE
TITLE_TCVN = b"C\xe8ng tho\xb8t n\xad\xedc b\xde v\xec"
SENTENCE_TCVN = (
    b"\xa7\xad\xeang L\xaa L\xeei ng\xcbp n\xad\xedc sau c\xacn m\xada, r\xb8c th\xb6i t\xe5n \xae\xe4ng tr\xad\xedc "
    b"ch\xee S\xe3c Tr\xa8ng"
)
TITLE_CP1258 = b"C\xf4\xecng tho\xe1t n\xfd\xf5\xecc bi\xf2 v\xf5\xde"
SENTENCE_CP1258 = (
    b"\xd0\xfd\xf5\xccng L\xea L\xf5\xf2i ng\xe2\xf2p n\xfd\xf5\xecc sau c\xf5n m\xfda, r\xe1c tha\xd2i t\xf4\xccn "
    b"\xf0o\xf2ng tr\xfd\xf5\xecc ch\xf5\xf2 S\xf3c Tr\xe3ng"
)
# Key lines in plain ASCII, as a legacy mailer can always send them.
LINES = b"\r\n\r\nLinh vuc: thoat nuoc ngap ung\r\nPhuong/Xa: Phu Loi\r\n"


def photo(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buffer, "JPEG")
    return buffer.getvalue()


PHOTOS = (photo((200, 30, 30)), photo((30, 30, 200)))


@dataclass(frozen=True)
class Stack:
    port: int
    intake: Settings
    media: MediaSettings

    async def rows(self, settings: Settings | MediaSettings, query: str) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": settings.db_schema})
        try:
            return list(await conn.fetch(query))
        finally:
            await conn.close()

    async def reports(self) -> list[asyncpg.Record]:
        return await self.rows(self.intake, "SELECT * FROM reports ORDER BY submitted_at")

    async def events(self) -> list[dict[str, Any]]:
        rows = await self.rows(self.intake, "SELECT topic, payload FROM outbox ORDER BY id")
        return [{"topic": r["topic"], "raw": bytes(r["payload"]), **json.loads(r["payload"])} for r in rows]

    async def media_rows(self) -> list[asyncpg.Record]:
        return await self.rows(self.media, "SELECT id, size_bytes FROM media_objects")


@pytest.fixture
async def media_settings(
    admin_dsn: str, stack: dict[str, Any], service_schema: Callable[[str], Awaitable[str]]
) -> AsyncIterator[MediaSettings]:
    prefix = f"test-{uuid.uuid4().hex[:12]}/"
    settings = MediaSettings(
        database_url=admin_dsn,
        db_schema=await service_schema("media"),
        s3_endpoint=stack["s3_endpoint"],
        s3_access_key=stack["s3_access_key"],
        s3_secret_key=stack["s3_secret_key"],
        s3_bucket=stack["s3_bucket"],
        s3_key_prefix=prefix,
    )
    yield settings
    s3 = Minio(stack["s3_endpoint"], stack["s3_access_key"], stack["s3_secret_key"], secure=False)
    for obj in s3.list_objects(stack["s3_bucket"], prefix=prefix, recursive=True):
        s3.remove_object(stack["s3_bucket"], str(obj.object_name))


@pytest.fixture
async def mail_stack(intake_settings: Settings, media_settings: MediaSettings) -> AsyncIterator[Stack]:
    """The media API on a free port, and intake's SMTP server on another, sharing the test's loop."""
    async with TestServer(build_media_app(media_settings)) as media:
        settings = intake_settings.model_copy(
            update={
                "media_url": str(media.make_url("")).rstrip("/"),
                "mail_addresses": OURS,
                "mail_max_bytes": 2 * 1024 * 1024,
                "notify_public_key": generate_keypair()[1],  # the contact travels sealed, as in production
            }
        )
        desk = await open_desk(settings)
        server = await start_server(desk, "127.0.0.1", 0)
        try:
            yield Stack(server.sockets[0].getsockname()[1], settings, media_settings)
        finally:
            server.close()
            await server.wait_closed()
            await close_desk(desk)


def send(port: int, raw: bytes, sender: str = SENDER, to: str = OURS) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        return client.sendmail(sender, [to], raw)


async def deliver(stack: Stack, raw: bytes, sender: str = SENDER, to: str = OURS) -> None:
    await asyncio.to_thread(send, stack.port, raw, sender, to)


def wire(msg: EmailMessage) -> bytes:
    """The message as it travels: CRLF line ends (aiosmtpd reads a LF-only message as one overlong line)."""
    return msg.as_bytes(policy=policy.SMTP)


def utf8_mail(body: str, subject: str = "Rác thải và ngập nước trước chợ", photos: tuple[bytes, ...] = ()) -> bytes:
    msg = EmailMessage()
    msg["From"] = formataddr((NAME, SENDER))
    msg["To"] = OURS
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4()}@example.vn>"
    msg.set_content(body)
    for n, data in enumerate(photos):
        msg.add_attachment(data, maintype="image", subtype="jpeg", filename=f"anh-{n}.jpg")
    return wire(msg)


def legacy_mail(subject: bytes, body: bytes, charset: str, raw_subject: bool, photos: tuple[bytes, ...]) -> bytes:
    """A message as old Vietnamese mailers write it: 8-bit body in `charset`; the subject either raw 8-bit bytes
    (`raw_subject`) or an RFC 2047 encoded word of that charset."""
    encoded = subject if raw_subject else b"=?" + charset.encode() + b"?b?" + base64.b64encode(subject) + b"?="
    text_head = b"--b1\r\nContent-Type: text/plain; charset=" + charset.encode()
    parts = [text_head + b"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body + b"\r\n"]
    for n, data in enumerate(photos):
        parts.append(
            b'--b1\r\nContent-Type: image/jpeg\r\nContent-Disposition: attachment; filename="anh-%d.jpg"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n" % n + base64.encodebytes(data).replace(b"\n", b"\r\n")
        )
    head = (
        b"From: " + SENDER.encode() + b"\r\nTo: " + OURS.encode() + b"\r\nSubject: " + encoded + b"\r\n"
        b"Message-ID: <" + uuid.uuid4().hex.encode() + b"@legacy.example.vn>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
    )
    return head + b"".join(parts) + b"--b1--\r\n"


async def assert_report_with_photos(stack: Stack, channel_charset_check: str) -> None:
    """One report, Vietnamese read correctly, its event on the outbox, its two photos stored by media."""
    reports = await stack.reports()
    assert len(reports) == 1, channel_charset_check
    report = reports[0]
    assert report["channel"] == "email"
    assert report["title"] == TITLE
    assert SENTENCE in report["content"]
    assert report["category"] == "thoat-nuoc-ngap"
    assert report["ward_code"] is not None
    assert list(report["missing"]) == []
    events = await stack.events()
    assert [e["topic"] for e in events] == ["report.submitted.v1"]
    data = events[0]["data"]
    assert (data["channel"], data["title"], data["missing"]) == ("email", TITLE, [])
    assert SENDER.encode() not in events[0]["raw"]  # the contact is sealed for notify, never in clear
    assert data["contact_sealed"]
    stored = {str(r["id"]): r["size_bytes"] for r in await stack.media_rows()}
    assert sorted(stored) == sorted(data["media_ids"]) == sorted(str(m) for m in report["media_ids"])
    assert sorted(stored.values()) == sorted(len(p) for p in PHOTOS)


async def test_utf8_mail_with_two_photos_becomes_a_report(mail_stack: Stack) -> None:
    """UTF-8 text and two JPEGs: a report on the email channel whose photos media stored; nothing personal in the
    logs."""
    body = f"{SENTENCE}\n\nLĩnh vực: Thoát nước, ngập úng\nPhường/Xã: Phú Lợi\n"
    with capture_logs() as logs:
        await deliver(mail_stack, utf8_mail(body, subject=TITLE, photos=PHOTOS))
    await assert_report_with_photos(mail_stack, "utf-8")
    events = [entry["event"] for entry in logs]
    assert "mail_report_created" in events
    created = next(entry for entry in logs if entry["event"] == "mail_report_created")
    assert (created["charset"], created["attachments"]) == ("utf-8", 2)
    text = repr(logs)
    for secret in (SENDER, NAME, TITLE, SENTENCE):
        assert secret not in text


@pytest.mark.parametrize(
    ("charset", "subject", "body", "raw_subject", "read_as"),
    [
        ("windows-1258", TITLE_CP1258, SENTENCE_CP1258, False, "cp1258"),
        # TCVN3 declared as Latin-1, the subject in raw 8-bit bytes: what legacy mailers really send
        ("iso-8859-1", TITLE_TCVN, SENTENCE_TCVN, True, "tcvn3"),
    ],
)
async def test_legacy_charset_mail_with_two_photos_becomes_a_report(
    mail_stack: Stack, charset: str, subject: bytes, body: bytes, raw_subject: bool, read_as: str
) -> None:
    """Windows-1258 and TCVN3 (behind a wrong declaration) read as the right Vietnamese, photos stored."""
    with capture_logs() as logs:
        await deliver(mail_stack, legacy_mail(subject, body + LINES, charset, raw_subject, PHOTOS))
    await assert_report_with_photos(mail_stack, charset)
    created = next(entry for entry in logs if entry["event"] == "mail_report_created")
    assert created["charset"] == read_as


async def test_mail_without_a_place_becomes_an_incomplete_report(mail_stack: Stack) -> None:
    """No ward, address or map point: kept, with missing = ("location",) on the report and its event."""
    await deliver(mail_stack, utf8_mail(f"{SENTENCE}\nLĩnh vực: rác thải\n".replace("Sóc Trăng", "")))
    reports = await mail_stack.reports()
    assert len(reports) == 1
    assert (list(reports[0]["missing"]), reports[0]["category"], reports[0]["ward_code"]) == (
        ["location"],
        "rac-thai",
        None,
    )
    events = await mail_stack.events()
    assert len(events) == 1
    assert events[0]["data"]["missing"] == ["location"]


async def test_the_same_message_delivered_twice_is_one_report(mail_stack: Stack) -> None:
    """A retried delivery with the same Message-ID: 250 both times, one report, one event, photos uploaded once."""
    raw = utf8_mail(f"{SENTENCE}\nPhường: Phú Lợi\n", photos=PHOTOS[:1])
    await deliver(mail_stack, raw)
    await deliver(mail_stack, raw)
    assert len(await mail_stack.reports()) == 1
    assert len(await mail_stack.events()) == 1
    assert len(await mail_stack.media_rows()) == 1


async def test_automatic_messages_create_nothing(mail_stack: Stack) -> None:
    """An out-of-office reply, a bounce (null sender, DSN) and a mailing list message: accepted, nothing stored,
    nothing uploaded."""
    body = f"{SENTENCE}\nPhường: Phú Lợi\n"
    auto = EmailMessage()
    auto["From"] = SENDER
    auto["To"] = OURS
    auto["Subject"] = "Tự động trả lời: Cống thoát nước bị vỡ"
    auto["Auto-Submitted"] = "auto-replied"
    auto.set_content(body)
    auto.add_attachment(PHOTOS[0], maintype="image", subtype="jpeg", filename="a.jpg")
    listed = EmailMessage()
    listed["From"] = "tin-tuc@example.vn"
    listed["To"] = OURS
    listed["Subject"] = "Bản tin tuần này của phường"
    listed["List-Id"] = "<ban-tin.example.vn>"
    listed.set_content(body)
    bounce = (
        b"From: MAILER-DAEMON@mx.example.vn\r\nTo: " + OURS.encode() + b"\r\nSubject: Undelivered Mail\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n\r\n'
        b"--r\r\nContent-Type: text/plain\r\n\r\nThe mail system could not deliver your message.\r\n--r--\r\n"
    )
    with capture_logs() as logs:
        await deliver(mail_stack, wire(auto))
        await deliver(mail_stack, wire(listed), sender="tin-tuc@example.vn")
        await deliver(mail_stack, bounce, sender="")
    assert [e["reason"] for e in logs if e["event"] == "mail_ignored"] == [
        "auto_submitted",
        "mailing_list",
        "null_sender",
    ]
    assert await mail_stack.reports() == []
    assert await mail_stack.events() == []
    assert await mail_stack.media_rows() == []


async def test_relaying_is_refused(mail_stack: Stack) -> None:
    """RCPT to any address but ours: 550 5.7.1, and nothing is stored."""
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        await deliver(mail_stack, utf8_mail(SENTENCE), to="someone@example.com")
    code, text = refused.value.recipients["someone@example.com"]
    assert (code, text.startswith(b"5.7.1")) == (550, True)
    assert await mail_stack.reports() == []


async def test_oversized_mail_is_refused(mail_stack: Stack) -> None:
    """Over the size limit: 552, whether the client announces the size (MAIL FROM SIZE=) or not."""
    big = utf8_mail(SENTENCE, photos=(b"\xff\xd8\xff\xe0" + bytes(2 * 1024 * 1024),))
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        await deliver(mail_stack, big)
    assert refused.value.smtp_code == 552

    def without_size() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", mail_stack.port, timeout=30) as client:
            client.ehlo()
            client.mail(SENDER)
            client.rcpt(OURS)
            return client.data(big)

    code, _text = await asyncio.to_thread(without_size)
    assert code == 552
    assert await mail_stack.reports() == []
    assert await mail_stack.media_rows() == []


async def test_a_mail_that_cannot_be_a_report_is_refused_with_its_cause(mail_stack: Stack) -> None:
    """Too short to describe anything: 550 with the cause, nothing stored, nothing uploaded."""
    with pytest.raises(smtplib.SMTPDataError) as refused:
        await deliver(mail_stack, utf8_mail("Cống vỡ.", subject="Cống vỡ rồi", photos=PHOTOS[:1]))
    assert refused.value.smtp_code == 550
    assert b"at least 20 characters" in refused.value.smtp_error
    assert await mail_stack.reports() == []
    assert await mail_stack.media_rows() == []
