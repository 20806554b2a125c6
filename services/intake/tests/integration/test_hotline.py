"""The hotline 1022 operator API against the real PostgreSQL: a caller's report entered by an operator, the
emergency flag (received at once, 24/7; only this channel can set it), and the audited caller lookup."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from intake_helpers import Client, audit_rows, connect, submitted

from intake import service
from intake.config import Settings
from paht_shared import audit
from paht_shared.auth import Role, mint_token
from paht_shared.testing import pii

REASON = "Người gọi hỏi kết quả xử lý phản ánh trước đây"
# Sunday 29 November 2026, 02:00 in Vietnam (19:00 UTC on Saturday): nobody is at the reception desk.
SUNDAY_2AM = datetime(2026, 11, 28, 19, 0, tzinfo=UTC)
MONDAY_OPENING = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # 07:00 in Vietnam


@pytest.fixture
def operator(signing_key: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + mint_token(signing_key, "tong.dai.01", Role.OPERATOR)}


def call(caller: int = 1, **changes: Any) -> dict[str, Any]:
    """A caller's report as an operator types it: name and phone as given, no CCCD or address needed."""
    body = pii.sample_report()
    body["reporter"] = {"full_name": "Lâm Thị Sa Rết", "phone": pii.caller_phone(caller)}
    body.pop("channel", None)
    return body | changes


async def enter(staff_client: Client, headers: dict[str, str], body: dict[str, Any], key: str | None = None) -> Any:
    return await staff_client.post(
        "/api/v1/operator/reports", json=body, headers=headers | {"Idempotency-Key": key or str(uuid.uuid4())}
    )


async def entered(staff_client: Client, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    resp = await enter(staff_client, headers, body)
    assert resp.status == 201, await resp.text()
    created: dict[str, Any] = await resp.json()
    return created


async def submitted_event(staff_settings: Settings, report_id: str) -> dict[str, Any]:
    conn = await connect(staff_settings)
    try:
        row = await conn.fetchrow(
            "SELECT payload FROM outbox WHERE topic = 'report.submitted.v1' AND key = $1", report_id
        )
    finally:
        await conn.close()
    assert row is not None
    data: dict[str, Any] = json.loads(bytes(row["payload"]))["data"]
    return data


async def test_an_operator_enters_a_callers_report_with_their_id_on_it(
    staff_client: Client, staff_settings: Settings, operator: dict[str, str]
) -> None:
    """201 with what the operator reads back (code, secret); the report and its event say hotline and who
    entered it; the caller's name and phone are stored encrypted, never in the event."""
    created = await entered(staff_client, operator, call())

    assert created["emergency"] is False
    assert created["tracking_secret"]
    event = await submitted_event(staff_settings, created["id"])
    assert event["channel"] == "hotline"
    assert event["operator_id"] == "tong.dai.01"
    assert event["emergency"] is False
    raw_event = json.dumps(event, ensure_ascii=False)
    assert "Sa Rết" not in raw_event
    assert pii.caller_phone(1)[-6:] not in raw_event
    conn = await connect(staff_settings)
    try:
        row = await conn.fetchrow("SELECT channel, operator_id, emergency FROM reports WHERE id = $1", created["id"])
    finally:
        await conn.close()
    assert dict(row) == {"channel": "hotline", "operator_id": "tong.dai.01", "emergency": False}


async def test_a_caller_gives_name_and_phone_and_every_missing_field_is_listed(
    staff_client: Client, operator: dict[str, str]
) -> None:
    body = call()
    body["reporter"] = {"full_name": "Lâm Thị Sa Rết"}
    del body["title"]

    resp = await enter(staff_client, operator, body)

    assert resp.status == 422
    fields = {e["field"]: e["code"] for e in (await resp.json())["errors"]}
    assert fields == {"reporter.phone": "missing", "title": "missing"}


async def test_an_emergency_at_2am_on_a_sunday_is_received_at_once(
    staff_client: Client, staff_settings: Settings, operator: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside office hours an ordinary call counts from Monday's opening; an emergency from the minute it
    was entered, flagged in the report and its event."""
    monkeypatch.setattr(service, "utc_now", lambda: SUNDAY_2AM)

    urgent = await entered(staff_client, operator, call(emergency=True))
    ordinary = await entered(staff_client, operator, call(caller=2))

    assert urgent["emergency"] is True
    assert datetime.fromisoformat(urgent["received_at"]) == SUNDAY_2AM
    assert datetime.fromisoformat(ordinary["received_at"]) == MONDAY_OPENING
    event = await submitted_event(staff_settings, urgent["id"])
    assert event["emergency"] is True
    assert datetime.fromisoformat(event["received_at"]) == SUNDAY_2AM


async def test_a_citizen_cannot_create_an_emergency_nor_pose_as_the_hotline(staff_client: Client) -> None:
    """The web API refuses the flag and the channel by name; nothing is stored."""
    flagged = await staff_client.post(
        "/api/v1/reports", json=pii.sample_report() | {"emergency": True}, headers=pii.caller_headers(3)
    )
    hotline = await staff_client.post(
        "/api/v1/reports", json=pii.sample_report() | {"channel": "hotline"}, headers=pii.caller_headers(4)
    )

    assert flagged.status == 422
    assert {"field": "emergency", "code": "field_not_allowed"}.items() <= (await flagged.json())["errors"][0].items()
    assert hotline.status == 422
    assert (await hotline.json())["errors"][0]["field"] == "channel"


@pytest.mark.parametrize(
    ("role", "agency", "status"),
    [(Role.OFFICER, "SNNMT", 403), (Role.ADMIN, None, 403), (Role.COORDINATOR, None, 201)],
)
async def test_only_hotline_staff_use_the_operator_api(
    staff_client: Client, signing_key: str, role: Role, agency: str | None, status: int
) -> None:
    """An officer's or admin's token is refused (403) and nothing is stored; coordinators run the hotline."""
    headers = {"Authorization": "Bearer " + mint_token(signing_key, "someone", role, agency)}

    resp = await enter(staff_client, headers, call())
    lookup = await staff_client.post(
        "/api/v1/operator/caller-lookups", json={"phone": pii.caller_phone(1), "reason": REASON}, headers=headers
    )

    assert resp.status == status
    assert lookup.status == (200 if status == 201 else 403)


async def test_without_a_token_the_operator_api_is_401(staff_client: Client) -> None:
    resp = await enter(staff_client, {}, call())

    assert resp.status == 401


async def test_a_retried_call_is_one_report(
    staff_client: Client, staff_settings: Settings, operator: dict[str, str]
) -> None:
    key = str(uuid.uuid4())
    first = await enter(staff_client, operator, call(), key)
    again = await enter(staff_client, operator, call(), key)

    assert (first.status, again.status) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await first.json())["id"] == (await again.json())["id"]
    conn = await connect(staff_settings)
    try:
        assert await conn.fetchval("SELECT count(*) FROM reports") == 1
    finally:
        await conn.close()


async def test_a_caller_lookup_finds_their_earlier_reports_and_is_audited(
    staff_client: Client, staff_settings: Settings, operator: dict[str, str]
) -> None:
    """By the phone in any spelling: the caller's reports from every channel, newest first, anonymous ones
    left out, another caller's never; one audit row with who and why, and no phone number in it."""
    web = await submitted(staff_client, pii.sample_report(caller=21))
    by_phone = await entered(staff_client, operator, call(caller=21))
    await submitted(staff_client, pii.sample_report(caller=21) | {"anonymous": True})
    await entered(staff_client, operator, call(caller=22))
    spoken = " ".join(pii.caller_phone(21)[i : i + 3] for i in range(0, 10, 3))  # "090 123 456 7"

    resp = await staff_client.post(
        "/api/v1/operator/caller-lookups", json={"phone": spoken, "reason": REASON}, headers=operator
    )

    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    found = (await resp.json())["reports"]
    assert [r["tracking_code"] for r in found] == [by_phone["tracking_code"], web["tracking_code"]]
    assert {r["channel"] for r in found} == {"hotline", "web"}
    [row] = await audit_rows(staff_settings)
    assert (row["actor"], row["actor_role"], row["action"], row["reason"]) == (
        "tong.dai.01", "operator", "caller_lookup", REASON,
    )  # fmt: skip
    assert row["subject"].startswith("caller:")
    digits = pii.caller_phone(21)[-9:]
    assert all(digits not in str(value) for value in dict(row).values())
    conn = await connect(staff_settings)
    try:
        assert (await audit.verify(conn)).ok
    finally:
        await conn.close()


async def test_a_lookup_without_a_reason_or_with_a_bad_number_shows_nothing(
    staff_client: Client, staff_settings: Settings, operator: dict[str, str]
) -> None:
    await entered(staff_client, operator, call(caller=23))

    no_reason = await staff_client.post(
        "/api/v1/operator/caller-lookups", json={"phone": pii.caller_phone(23)}, headers=operator
    )
    bad_number = await staff_client.post(
        "/api/v1/operator/caller-lookups", json={"phone": "12345", "reason": REASON}, headers=operator
    )
    no_phone = await staff_client.post("/api/v1/operator/caller-lookups", json={"reason": REASON}, headers=operator)

    assert (no_reason.status, (await no_reason.json())["errors"][0]["code"]) == (422, "reason_required")
    assert (bad_number.status, (await bad_number.json())["errors"][0]["code"]) == (422, "invalid_phone")
    assert no_phone.status == 422
    assert await audit_rows(staff_settings) == []


async def test_no_audit_row_no_answer(staff_client: Client, staff_settings: Settings, operator: dict[str, str]) -> None:
    """The audit log is gone (a broken migration, say): 503 with Retry-After, and no report is shown."""
    await entered(staff_client, operator, call(caller=24))
    conn = await connect(staff_settings)
    try:
        await conn.execute("DROP TABLE audit_log")
    finally:
        await conn.close()

    resp = await staff_client.post(
        "/api/v1/operator/caller-lookups", json={"phone": pii.caller_phone(24), "reason": REASON}, headers=operator
    )

    assert resp.status == 503
    assert resp.headers["Retry-After"]
    body = await resp.json()
    assert body["errors"][0]["code"] == "audit_unavailable"
    assert "reports" not in body
