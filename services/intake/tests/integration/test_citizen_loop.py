"""The reporter's side against the real PostgreSQL: reception time, tracking, the answer, a request for
more information, rating and reopening (each one event and one timeline entry), wrong secrets."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from intake_helpers import Client, act, connect, outbox_events, routing_says, submitted, track

from intake.app import reception
from intake.config import Settings
from paht_shared.contracts import ReportStatus, topics
from paht_shared.envelope import utc_now
from paht_shared.testing import pii

VN = "+07:00"


def test_reception_waits_for_the_desk_to_open_after_tet() -> None:
    """Friday 13 Feb 2026, 16:58, the last afternoon before Tết: received Monday 23 Feb at 07:00, when the
    desk opens after the holiday; a Tuesday at 10:00 is received at once; a Saturday waits for Monday."""
    calendar = reception(Settings(pii_keys="k1:" + "A" * 43 + "=", blind_index_key="A" * 43 + "=")).calendar
    friday = datetime.fromisoformat(f"2026-02-13T16:58:00{VN}")
    assert calendar.reception_time(friday) == datetime.fromisoformat(f"2026-02-23T07:00:00{VN}")
    tuesday = datetime.fromisoformat(f"2026-12-01T10:00:00{VN}")  # (24 Nov is Vietnam Culture Day, a holiday)
    assert calendar.reception_time(tuesday) == tuesday
    saturday = datetime.fromisoformat(f"2026-11-28T09:00:00{VN}")
    assert calendar.reception_time(saturday) == datetime.fromisoformat(f"2026-11-30T07:00:00{VN}")


async def test_the_report_and_its_event_carry_submission_and_reception_times(
    client: Client, intake_settings: Settings
) -> None:
    """received_at is the calendar's reception time of submitted_at, on the receipt, the tracking page and the event."""
    created = await submitted(client)
    submitted_at = datetime.fromisoformat(created["submitted_at"])
    expected = reception(intake_settings).calendar.reception_time(submitted_at)
    assert datetime.fromisoformat(created["received_at"]) == expected
    shown = await (await track(client, created)).json()
    assert datetime.fromisoformat(shown["received_at"]) == expected
    [event] = await outbox_events(intake_settings, topics.REPORT_SUBMITTED)
    assert datetime.fromisoformat(event.data["received_at"]) == expected
    assert event.data["identity_shared"] is True
    assert pii.find_leaks(event.to_bytes().decode()) == []


async def test_answer_rate_reopen_each_one_event_and_one_timeline_entry(
    client: Client, intake_settings: Settings
) -> None:
    """Routing assigns and answers; the citizen sees the answer (the name they gave masked in it), rates it,
    then reopens; each step adds exactly one timeline entry, and each citizen step one event."""
    created = await submitted(client)
    due = utc_now() + timedelta(days=5)
    await routing_says(intake_settings, created, 1, ReportStatus.ASSIGNED, due_at=due)
    answer = f"Kính gửi {pii.FULL_NAME}: đã thu gom rác trước chợ, liên hệ 0292 3821 234 nếu còn tồn đọng."
    await routing_says(intake_settings, created, 2, ReportStatus.ANSWERED, message=answer)
    shown = await (await track(client, created)).json()
    assert shown["status"] == "answered"
    assert shown["answer"]["agency"]["code"] == "SNNMT"
    assert shown["answer"]["on_time"] is True
    assert pii.FULL_NAME not in shown["answer"]["text"]
    assert "0292 3821 234" not in shown["answer"]["text"]
    assert "[đã ẩn]" in shown["answer"]["text"]
    assert {a["action"] for a in shown["next_actions"]} == {"rate", "reopen"}
    assert len(shown["timeline"]) == 3

    rated = await act(client, created, "rating", {"rating": "khong_hai_long", "comment": "Vẫn còn rác ở góc chợ."})
    assert rated.status == 200, await rated.text()
    shown = await rated.json()
    assert shown["status"] == "rated"
    assert shown["rating"]["label"] == "Không hài lòng"
    assert len(shown["timeline"]) == 4
    assert [a["action"] for a in shown["next_actions"]] == ["reopen"]
    again = await act(client, created, "rating", {"rating": "hai_long"})
    assert again.status == 409
    assert (await again.json())["errors"][0]["code"] == "already_rated"

    reopened = await act(client, created, "reopen", {"reason": f"Rác vẫn còn, gọi tôi {pii.PHONE} để xem."})
    assert reopened.status == 200, await reopened.text()
    shown = await reopened.json()
    assert shown["status"] == "reopened"
    assert [(t["status"], t["actor"]) for t in shown["timeline"]] == [
        ("submitted", "system"),
        ("assigned", "agency"),
        ("answered", "agency"),
        ("rated", "citizen"),
        ("reopened", "citizen"),
    ]
    assert pii.PHONE not in shown["timeline"][-1]["note"]

    events = await outbox_events(intake_settings, topics.REPORT_CITIZEN_ACTIONS)
    assert [e.event_type for e in events] == ["report.rated", "report.reopened"]
    assert events[1].data["reopen_count"] == 1
    assert all(pii.find_leaks(e.to_bytes().decode()) == [] for e in events)

    # routing takes the reopened report up again (sequence 3) and answers once more (4): a new answer may be rated
    await routing_says(intake_settings, created, 3, ReportStatus.ASSIGNED)
    await routing_says(intake_settings, created, 4, ReportStatus.ANSWERED, message="Đã thu gom lần hai, đã kiểm tra.")
    shown = await (await track(client, created)).json()
    assert shown["rating"] is None
    assert shown["answer"]["text"] == "Đã thu gom lần hai, đã kiểm tra."
    assert (await act(client, created, "rating", {"rating": "hai_long"})).status == 200


async def test_rating_and_reopening_need_an_answer_and_the_window(client: Client, intake_settings: Settings) -> None:
    """Before an answer: 409 not_answered; after the window: 409 window_passed; reopen limit: 409."""
    created = await submitted(client)
    for action, body in (("rating", {"rating": "hai_long"}), ("reopen", {"reason": "Chưa được giải quyết gì cả."})):
        resp = await act(client, created, action, body)
        assert resp.status == 409
        assert (await resp.json())["errors"][0]["code"] == "not_answered"
    long_ago = utc_now() - timedelta(days=intake_settings.answer_window_days + 1)
    await routing_says(
        intake_settings, created, 1, ReportStatus.ANSWERED, message="Đã xử lý xong.", changed_at=long_ago
    )
    resp = await act(client, created, "reopen", {"reason": "Chưa được giải quyết gì cả."})
    assert (await resp.json())["errors"][0]["code"] == "window_passed"
    assert (await (await track(client, created)).json())["next_actions"] == []

    bad = await act(client, created, "rating", {"rating": "tuyet_voi", "stars": 5})
    assert bad.status == 422
    assert {(e["field"], e["code"]) for e in (await bad.json())["errors"]} == {
        ("rating", "invalid_rating"),
        ("stars", "unknown_field"),
    }

    other = await submitted(client)
    for n in range(intake_settings.max_reopens):
        await routing_says(intake_settings, other, 2 * n + 1, ReportStatus.ANSWERED, message="Đã xử lý xong.")
        assert (await act(client, other, "reopen", {"reason": "Chưa được giải quyết gì cả."})).status == 200
    await routing_says(intake_settings, other, 99, ReportStatus.ANSWERED, message="Đã xử lý xong.")
    resp = await act(client, other, "reopen", {"reason": "Chưa được giải quyết gì cả."})
    assert (await resp.json())["errors"][0]["code"] == "reopen_limit_reached"


async def test_request_for_information_and_the_citizens_reply(client: Client, intake_settings: Settings) -> None:
    """The agency asks (needs_info); the question shows with provide_info as the next action; the reply is
    stored masked, added to the timeline and published; a second reply finds nothing open."""
    created = await submitted(client)
    await routing_says(intake_settings, created, 1, ReportStatus.ASSIGNED)
    await routing_says(intake_settings, created, 2, ReportStatus.NEEDS_INFO, message="Xin cho biết số nhà cụ thể?")
    shown = await (await track(client, created)).json()
    assert shown["information_requests"][0]["question"] == "Xin cho biết số nhà cụ thể?"
    assert [a["action"] for a in shown["next_actions"]] == ["provide_info"]
    resp = await act(client, created, "information", {"text": f"Số nhà 12, email tôi {pii.EMAIL}."})
    assert resp.status == 200, await resp.text()
    shown = await resp.json()
    reply = shown["information_requests"][0]["reply"]
    assert reply.startswith("Số nhà 12")
    assert pii.EMAIL not in reply
    assert shown["timeline"][-1]["actor"] == "citizen"
    [event] = await outbox_events(intake_settings, topics.REPORT_CITIZEN_ACTIONS)
    assert event.event_type == "report.information_provided"
    again = await act(client, created, "information", {"text": "Bổ sung thêm một lần nữa."})
    assert (await again.json())["errors"][0]["code"] == "no_information_request"


async def test_the_files_of_a_reply_travel_with_their_upload_proofs(client: Client, intake_settings: Settings) -> None:
    """Files attached with their upload tokens: the event carries each id with the token's SHA-256 (media
    claims them for the report), never the token itself."""
    created = await submitted(client)
    await routing_says(intake_settings, created, 1, ReportStatus.NEEDS_INFO, message="Xin gửi thêm ảnh?")
    photo = {"id": str(uuid.uuid4()), "upload_token": "tok-" + uuid.uuid4().hex}

    resp = await act(client, created, "information", {"text": "Ảnh chụp thêm ở đây.", "media": [photo]})

    assert resp.status == 200, await resp.text()
    [event] = await outbox_events(intake_settings, topics.REPORT_CITIZEN_ACTIONS)
    assert event.data["media_ids"] == [photo["id"]]
    assert event.data["media"] == [
        {"media_id": photo["id"], "token_sha256": hashlib.sha256(photo["upload_token"].encode()).hexdigest()}
    ]
    assert photo["upload_token"] not in event.to_bytes().decode()


async def test_wrong_secrets_lock_the_code_for_a_while(client: Client, intake_settings: Settings) -> None:
    """Each wrong secret is a 404 like an unknown code; after the limit the code answers 429 with Retry-After,
    even to the right secret; another code is unaffected."""
    created = await submitted(client)
    other = await submitted(client)
    for _ in range(intake_settings.wrong_secrets_per_code):
        wrong = await track(client, created, secret="doan-thu")  # noqa: S106 - a wrong guess, not a secret
        assert wrong.status == 404
    locked = await track(client, created)
    assert locked.status == 429
    assert 0 < int(locked.headers["Retry-After"]) <= intake_settings.tracking_lock_minutes * 60
    assert (await locked.json())["errors"][0]["code"] == "tracking_locked"
    assert (await track(client, other)).status == 200
    unknown = await track(client, {"tracking_code": "PA-ZZZZZZZZ", "tracking_secret": "x"})
    assert unknown.status == 404
    conn = await connect(intake_settings)
    try:
        assert await conn.fetchval("SELECT failures FROM tracking_failures WHERE tracking_code = 'PA-ZZZZZZZZ'") == 1
    finally:
        await conn.close()


async def test_anonymous_report_with_only_a_phone(client: Client, intake_settings: Settings) -> None:
    """Anonymous, only a phone: accepted; the event says the identity is not shared and carries none; the
    public view shows the report and nothing of the reporter; the phone is stored only encrypted."""
    body = pii.sample_report()
    body["anonymous"] = True
    body["reporter"] = {"phone": pii.PHONE}
    created = await submitted(client, body)
    [event] = await outbox_events(intake_settings, topics.REPORT_SUBMITTED)
    assert event.data["anonymous"] is True
    assert event.data["identity_shared"] is False
    assert pii.find_leaks(event.to_bytes().decode()) == []
    shown = await client.get(f"/api/v1/public/reports/{created['tracking_code']}")
    assert shown.status == 200
    assert pii.find_leaks(await shown.text()) == []
    conn = await connect(intake_settings)
    try:
        reporter = await conn.fetchrow("SELECT * FROM reporters")
    finally:
        await conn.close()
    assert reporter["full_name_enc"] is None
    assert reporter["cccd_enc"] is None
    assert pii.PHONE[1:] not in bytes(reporter["phone_enc"]).decode("latin-1")


async def test_attached_files_travel_with_the_hash_of_their_upload_token(
    client: Client, intake_settings: Settings
) -> None:
    """The event names each attached file with the SHA-256 of its upload token (media checks it), never the
    token itself: a token on Kafka would let anyone reading the topic claim the file."""
    token = secrets.token_urlsafe(32)
    media_id = str(uuid.uuid4())
    body = pii.sample_report()
    body["media"] = [{"id": media_id, "upload_token": token}]
    await submitted(client, body)
    [event] = await outbox_events(intake_settings, topics.REPORT_SUBMITTED)
    assert event.data["media_ids"] == [media_id]
    assert event.data["media"] == [{"media_id": media_id, "token_sha256": hashlib.sha256(token.encode()).hexdigest()}]
    assert token not in event.to_bytes().decode()
