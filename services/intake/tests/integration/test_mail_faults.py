"""Inbound email when something fails, over real SMTP: each test first proves its fault happened, then what
survived. The rule: a message that got 250 is never lost and never handled twice; one that got 4xx left nothing
behind, so the sender's retry (same Message-ID) makes exactly one report."""

from __future__ import annotations

import smtplib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestServer
from mail_helpers import (
    SENTENCE,
    Stack,
    answer,
    deliver,
    free_port,
    legacy_mail,
    mail_settings,
    media_settings_for,
    photo,
    remove_media_objects,
    running_stack,
    smtp_desk,
    utf8_mail,
)
from structlog.testing import capture_logs

from intake import repository
from intake.config import Settings
from media.app import build_app as build_media_app
from media.config import Settings as MediaSettings

RECEIVED = (250, b"2.0.0 Report received; the tracking code follows by email")
ALREADY = (250, b"2.0.0 Already received")
BODY = f"{SENTENCE}\nPhường/Xã: Phú Lợi\nLĩnh vực: rác thải\n"
PHOTO = photo((200, 30, 30))


@pytest.fixture
async def media_settings(
    admin_dsn: str, stack: dict[str, Any], service_schema: Callable[[str], Awaitable[str]]
) -> AsyncIterator[MediaSettings]:
    settings = media_settings_for(admin_dsn, stack, await service_schema("media"))
    yield settings
    remove_media_objects(settings)


async def assert_nothing_stored(stack: Stack) -> None:
    assert await stack.reports() == []
    assert await stack.events() == []
    assert await stack.idempotency_keys() == []


async def assert_one_report(stack: Stack, photos: int) -> None:
    """One report, its one event, and (with photos) media's rows are exactly those the event names."""
    [report] = await stack.reports()
    [event] = await stack.events()
    assert (event["topic"], event["data"]["report_id"]) == ("report.submitted.v1", str(report["id"]))
    assert len(await stack.idempotency_keys()) == 1
    stored = sorted(str(r["id"]) for r in await stack.media_rows())
    assert len(stored) == photos
    assert stored == sorted(event["data"]["media_ids"]) == sorted(str(m) for m in report["media_ids"])


async def test_media_down_defers_the_message_and_its_retry_makes_one_report(
    intake_settings: Settings, media_settings: MediaSettings
) -> None:
    """Media's port refuses connections: 451, and no report, event or key. Media then starts on that port: the
    same message again is one report with its photo, and a third delivery is a duplicate."""
    media_port = free_port()
    settings = mail_settings(intake_settings, f"http://127.0.0.1:{media_port}")
    async with smtp_desk(settings) as port:
        stack = Stack(port, settings, media_settings)
        raw = utf8_mail(BODY, photos=(PHOTO,))
        with capture_logs() as logs:
            code, _text = await answer(stack, raw)
        assert code == 451
        [deferred] = [e for e in logs if e["event"] == "mail_deferred"]
        assert (deferred["reason"], deferred["error"]) == ("media_unavailable", "ClientConnectorError")
        await assert_nothing_stored(stack)
        assert await stack.media_rows() == []

        async with TestServer(build_media_app(media_settings), port=media_port):
            assert await answer(stack, raw) == RECEIVED
            assert await answer(stack, raw) == ALREADY
        await assert_one_report(stack, photos=1)


async def test_database_lost_in_the_submission_defers_and_the_retry_makes_one_report(
    intake_settings: Settings, media_settings: MediaSettings, admin_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The submission's connection is terminated (pg_terminate_backend, waited for) right after the report row
    was written in its transaction: 451, the transaction is gone with the connection, nothing stored. The
    sender's retry of the same message is one report (its photo uploaded again and attached once)."""
    terminated: list[int] = []
    insert_submission = repository.insert_submission

    async def insert_then_lose_the_connection(conn: asyncpg.Connection, *args: Any) -> None:
        await insert_submission(conn, *args)
        if not terminated:
            pid = conn.get_server_pid()
            admin = await asyncpg.connect(admin_dsn)
            try:
                assert await admin.fetchval("SELECT pg_terminate_backend($1, 5000)", pid)
                assert await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid) == 0
            finally:
                await admin.close()
            terminated.append(pid)

    monkeypatch.setattr(repository, "insert_submission", insert_then_lose_the_connection)
    async with running_stack(intake_settings, media_settings) as stack:
        raw = utf8_mail(BODY, photos=(PHOTO,))
        with capture_logs() as logs:
            code, _text = await answer(stack, raw)
        assert len(terminated) == 1
        assert code == 451
        [deferred] = [e for e in logs if e["event"] == "mail_deferred"]
        assert deferred["reason"] == "dependency_unavailable"
        await assert_nothing_stored(stack)

        assert await answer(stack, raw) == RECEIVED
        assert await answer(stack, raw) == ALREADY
        assert len(terminated) == 1  # the fault happened once; the retry ran on a fresh connection
    [report] = await stack.reports()
    [event] = await stack.events()
    assert event["data"]["media_ids"] == [str(m) for m in report["media_ids"]]
    assert len(report["media_ids"]) == 1
    # The first attempt's upload stays unattached (media's retention deletes it): two uploads, one attached.
    assert len(await stack.media_rows()) == 2


async def test_a_sender_over_its_hourly_limit_is_deferred_and_others_are_not(
    intake_settings: Settings, media_settings: MediaSettings
) -> None:
    """Limit 2: the third message from one sender gets 450 4.7.1, and nothing of it is stored or uploaded;
    a message from another sender at the same moment is a report."""
    async with running_stack(intake_settings, media_settings, mail_per_sender_per_hour=2) as stack:
        for _ in range(2):
            await deliver(stack, utf8_mail(BODY))
        third = utf8_mail(BODY, photos=(PHOTO,))
        with capture_logs() as logs, pytest.raises(smtplib.SMTPDataError) as deferred:
            await deliver(stack, third)
        assert deferred.value.smtp_code == 450
        assert b"4.7.1 Too many messages from this sender" in deferred.value.smtp_error
        assert [e["reason"] for e in logs if e["event"] == "mail_deferred"] == ["sender_hourly_limit"]
        assert len(await stack.reports()) == 2
        assert len(await stack.events()) == 2
        assert len(await stack.idempotency_keys()) == 2
        assert await stack.media_rows() == []

        other = "hang-xom@example.vn"
        await deliver(stack, utf8_mail(BODY, sender=other, name="Trần Thị Bình"), sender=other)
        assert len(await stack.reports()) == 3


async def test_vni_mail_over_smtp_becomes_a_report_that_reads_correctly(
    intake_settings: Settings, media_settings: MediaSettings
) -> None:
    """VNI bytes in the subject (raw 8-bit) and the body (declared Latin-1, as VNI mailers do): the report's
    title and text are the Vietnamese the sender typed, with its photo."""
    subject = "Coáng thoaùt nöôùc bò vôõ".encode("latin-1")  # Cống thoát nước bị vỡ
    body = "Ñöôøng Leâ Lôïi ngaäp nöôùc sau côn möa, raùc thaûi toàn ñoïng tröôùc chôï.\r\nPhuong/Xa: Phu Loi\r\n"
    async with running_stack(intake_settings, media_settings) as stack:
        with capture_logs() as logs:
            await deliver(stack, legacy_mail(subject, body.encode("latin-1"), "iso-8859-1", (PHOTO,)))
        [created] = [e for e in logs if e["event"] == "mail_report_created"]
        assert created["charset"] == "vni"
        [report] = await stack.reports()
        assert report["title"] == "Cống thoát nước bị vỡ"
        assert report["content"].startswith("Đường Lê Lợi ngập nước sau cơn mưa, rác thải tồn đọng trước chợ.")
        assert report["ward_code"] is not None
        await assert_one_report(stack, photos=1)
