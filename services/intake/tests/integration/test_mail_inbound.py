"""Inbound email end to end: the real SMTP handler on a free port, intake's PostgreSQL schema, and the real media
API (in-process, on the real PostgreSQL and S3) taking the attachments. Mail is sent with smtplib.

Legacy bytes (TCVN3, Windows-1258) were produced by GNU libc's iconv, not by our tables.
"""

from __future__ import annotations

import smtplib
from collections.abc import AsyncIterator, Awaitable, Callable
from email.message import EmailMessage
from typing import Any

import pytest
from mail_helpers import (
    NAME,
    OURS,
    SENDER,
    SENTENCE,
    Stack,
    answer,
    deliver,
    legacy_mail,
    media_storage,
    photo,
    running_stack,
    utf8_mail,
    wire,
)
from structlog.testing import capture_logs

from intake.config import Settings
from media.config import Settings as MediaSettings

TITLE = "Cống thoát nước bị vỡ"
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

PHOTOS = (photo((200, 30, 30)), photo((30, 30, 200)))


@pytest.fixture
async def media_settings(
    admin_dsn: str, stack: dict[str, Any], service_schema: Callable[[str], Awaitable[str]]
) -> AsyncIterator[MediaSettings]:
    async with media_storage(admin_dsn, stack, await service_schema("media")) as settings:
        yield settings


@pytest.fixture
async def mail_stack(intake_settings: Settings, media_settings: MediaSettings) -> AsyncIterator[Stack]:
    """The media API on a free port, and intake's SMTP server on another, sharing the test's loop."""
    async with running_stack(intake_settings, media_settings) as stack:
        yield stack


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
        await deliver(mail_stack, legacy_mail(subject, body + LINES, charset, PHOTOS, raw_subject=raw_subject))
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
    code, _text = await answer(mail_stack, big)  # the same mail, its size not announced
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
