"""A citizen's reply by email to our automatic reply, end to end over SMTP: it completes the report it names (one
information reply, its event on the outbox, the timeline), or, from anyone else, is never added to it."""

from __future__ import annotations

import smtplib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from intake_helpers import routing_says
from mail_helpers import (
    SENDER,
    SENTENCE,
    Stack,
    answer,
    deliver,
    media_settings_for,
    photo,
    remove_media_objects,
    running_stack,
    utf8_mail,
)
from structlog.testing import capture_logs

from intake.config import Settings
from media.config import Settings as MediaSettings
from paht_shared.contracts import ReportStatus

STRANGER = "nguoi-khac@example.vn"
QUESTION = "Xin bổ sung: địa điểm xảy ra (phường/xã và địa chỉ cụ thể)."
# What a mail client sends back: the citizen's lines, then our reception email quoted below "... đã viết:".
REPLY = (
    "Phường/Xã: Phú Lợi\nĐịa chỉ: 12 Lê Lợi, trước cổng chợ\nLiên hệ thêm qua {sender}\n\n"
    "Vào Thứ Hai, 30 thg 11, 2026 lúc 09:00 PAHT đã viết:\n> Kính gửi Quý ông/bà,\n> Lĩnh vực: Khác\n"
)


@pytest.fixture
async def media_settings(
    admin_dsn: str, stack: dict[str, Any], service_schema: Callable[[str], Awaitable[str]]
) -> AsyncIterator[MediaSettings]:
    settings = media_settings_for(admin_dsn, stack, await service_schema("media"))
    yield settings
    remove_media_objects(settings)


@pytest.fixture
async def mail_stack(intake_settings: Settings, media_settings: MediaSettings) -> AsyncIterator[Stack]:
    async with running_stack(intake_settings, media_settings) as stack:
        yield stack


async def report_without_a_place(stack: Stack, asked: bool = True) -> dict[str, Any]:
    """An emailed report without its place, and (`asked`) routing's needs_info with its question, as routing's
    triage publishes it: intake then holds an open information request."""
    await deliver(stack, utf8_mail(f"{SENTENCE}\nLĩnh vực: rác thải\n".replace("Sóc Trăng", "")))
    [report] = await stack.reports()
    assert list(report["missing"]) == ["location"]
    created = {"id": str(report["id"]), "tracking_code": report["tracking_code"]}
    if asked:
        await routing_says(stack.intake, created, 1, ReportStatus.NEEDS_INFO, message=QUESTION)
    return created


def reply_to(created: dict[str, Any], sender: str = SENDER, body: str = REPLY, **kw: Any) -> bytes:
    subject = f"Re: [PAHT] Đã tiếp nhận phản ánh — {created['tracking_code']}"
    return utf8_mail(body.format(sender=sender), subject=subject, sender=sender, **kw)


async def citizen_events(stack: Stack) -> list[dict[str, Any]]:
    return [e for e in await stack.events() if e["topic"] == "report.citizen_actions.v1"]


async def open_requests(stack: Stack, report_id: str) -> list[asyncpg.Record]:
    query = "SELECT id FROM information_requests WHERE report_id = $1 AND reply IS NULL"
    return await stack.rows(stack.intake, query, uuid.UUID(report_id))


async def test_a_reply_from_the_reporter_completes_the_report(mail_stack: Stack) -> None:
    """ "Re: [PAHT] Đã tiếp nhận phản ánh — PA-…" from the reporter, with "Phường/Xã: …": no new report; the open
    request is answered with the reply's own words (quote trimmed, the address masked) and what its key lines
    say; one report.information_provided event; the timeline shows the citizen's reply; the photo is not
    uploaded (nothing would claim it) but mentioned."""
    created = await report_without_a_place(mail_stack)
    with capture_logs() as logs:
        code, text = await answer(mail_stack, reply_to(created, photos=(photo((10, 120, 10)),)))
    assert (code, text) == (250, b"2.0.0 Information added to the report")
    assert [r["id"] for r in await mail_stack.reports()] == [uuid.UUID(created["id"])]
    [event] = await citizen_events(mail_stack)
    data = event["data"]
    assert event["event_type"] == "report.information_provided"
    assert (data["report_id"], data["tracking_code"], data["media_ids"]) == (
        created["id"],
        created["tracking_code"],
        [],
    )
    assert data["text"].startswith("Phường/Xã: Phú Lợi\nĐịa chỉ: 12 Lê Lợi, trước cổng chợ\n")
    assert "Phường/Xã: Phường Phú Lợi" in data["text"]  # the ward as the coordinator's list names it
    assert "1 tệp đính kèm" in data["text"]
    assert "Kính gửi" not in data["text"]  # our quoted email is not part of the reply
    assert "Lĩnh vực: Khác" not in data["text"]
    assert SENDER not in data["text"]
    assert SENDER.encode() not in event["raw"]
    replies = await mail_stack.rows(
        mail_stack.intake, "SELECT reply FROM information_requests WHERE report_id = $1", uuid.UUID(created["id"])
    )
    assert [r["reply"] for r in replies] == [data["text"]]
    timeline = await mail_stack.rows(
        mail_stack.intake,
        "SELECT status, note FROM report_timeline WHERE report_id = $1 ORDER BY id",
        uuid.UUID(created["id"]),
    )
    assert (timeline[-1]["status"], timeline[-1]["note"]) == ("needs_info", "Người phản ánh đã bổ sung thông tin.")
    assert await mail_stack.media_rows() == []
    provided = next(e for e in logs if e["event"] == "mail_information_provided")
    assert (provided["report_id"], provided["attachments_not_attached"], provided["key_lines"]) == (created["id"], 1, 2)
    assert SENDER not in repr(logs)


async def test_a_reply_from_another_address_is_not_added_to_the_report(mail_stack: Stack) -> None:
    """The same reply from an address that did not send the report: the report's request stays open and no
    information event is published; the message is a new report of its own, as any mail is (so it is not
    lost, and the answer does not tell whether the code exists)."""
    created = await report_without_a_place(mail_stack)
    body = f"{SENTENCE}\nPhường/Xã: Phú Lợi\n"
    await deliver(mail_stack, reply_to(created, sender=STRANGER, body=body), sender=STRANGER)
    assert await citizen_events(mail_stack) == []
    assert len(await open_requests(mail_stack, created["id"])) == 1
    reports = await mail_stack.reports()
    assert len(reports) == 2
    assert reports[1]["id"] != uuid.UUID(created["id"])
    assert reports[1]["title"] == f"[PAHT] Đã tiếp nhận phản ánh — {created['tracking_code']}"


async def test_an_unknown_code_is_an_ordinary_new_message(mail_stack: Stack) -> None:
    """A code no report has: a new report, exactly as for a stranger's reply."""
    await deliver(mail_stack, reply_to({"tracking_code": "PA-ZZZZ2222"}, body=f"{SENTENCE}\nPhường: Phú Lợi\n"))
    assert len(await mail_stack.reports()) == 1
    assert await citizen_events(mail_stack) == []


async def test_the_same_reply_delivered_twice_is_added_once(mail_stack: Stack) -> None:
    """The same Message-ID again (an MTA's retry): 250 both times, one information reply, one event, one
    citizen entry on the timeline."""
    created = await report_without_a_place(mail_stack)
    raw = reply_to(created)
    first = await answer(mail_stack, raw)
    second = await answer(mail_stack, raw)
    assert (first, second) == ((250, b"2.0.0 Information added to the report"), (250, b"2.0.0 Already received"))
    assert len(await citizen_events(mail_stack)) == 1
    assert len(await mail_stack.reports()) == 1
    notes = await mail_stack.rows(
        mail_stack.intake,
        "SELECT note FROM report_timeline WHERE report_id = $1 AND note = 'Người phản ánh đã bổ sung thông tin.'",
        uuid.UUID(created["id"]),
    )
    assert len(notes) == 1


async def test_a_reply_when_nothing_is_asked_is_refused_not_made_a_report(mail_stack: Stack) -> None:
    """The reporter writes again after their information was taken (the report no longer waits): 550 with the
    cause, and no second report nor a second reply. Before routing has triaged the report at all, the answer is
    451: routing may be about to ask, and the sender's server retries."""
    early = await report_without_a_place(mail_stack, asked=False)
    with pytest.raises(smtplib.SMTPDataError) as deferred:
        await deliver(mail_stack, reply_to(early))
    assert deferred.value.smtp_code == 451
    await routing_says(mail_stack.intake, early, 1, ReportStatus.NEEDS_INFO, message=QUESTION)
    await deliver(mail_stack, reply_to(early))
    with pytest.raises(smtplib.SMTPDataError) as refused:
        await deliver(mail_stack, reply_to(early, body="Tôi quên nói: cống nằm bên trái cổng chợ."))
    assert refused.value.smtp_code == 550
    assert b"not waiting for more information" in refused.value.smtp_error
    assert len(await mail_stack.reports()) == 1
    assert len(await citizen_events(mail_stack)) == 1


async def test_a_reply_with_no_words_of_its_own_is_refused(mail_stack: Stack) -> None:
    """Only the quoted email (an empty reply): 550 with the cause; the request stays open; no report."""
    created = await report_without_a_place(mail_stack)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        await deliver(mail_stack, reply_to(created, body="> Kính gửi Quý ông/bà,\n"))
    assert refused.value.smtp_code == 550
    assert b"no text of its own" in refused.value.smtp_error
    assert len(await open_requests(mail_stack, created["id"])) == 1
    assert len(await mail_stack.reports()) == 1
