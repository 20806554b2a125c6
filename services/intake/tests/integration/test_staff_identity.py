"""Staff's view of a reporter's identity over HTTP against the real PostgreSQL: scope, consent, a stated
reason, and an audit row for every attempt, written before anything is shown."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import pytest
import structlog
from intake_helpers import Client, audit_rows, connect, routing_says, submitted

from intake.config import Settings
from paht_shared import audit
from paht_shared.auth import Role, mint_token
from paht_shared.contracts import ReportStatus
from paht_shared.testing import pii

REASON = "Liên hệ người phản ánh để xác minh vị trí sự việc"


@pytest.fixture
def officer(signing_key: str) -> str:
    """An officer of SNNMT, the agency `routing_says` assigns reports to."""
    return mint_token(signing_key, "officer.snnmt", Role.OFFICER, agency="SNNMT")


@pytest.fixture
def coordinator(signing_key: str) -> str:
    return mint_token(signing_key, "dieu.phoi", Role.COORDINATOR)


async def assigned_report(
    staff_client: Client, staff_settings: Settings, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A submitted report that routing assigned to SNNMT."""
    created = await submitted(staff_client, body)
    await routing_says(staff_settings, created, 1, ReportStatus.ASSIGNED)
    return created


async def view(staff_client: Client, report_id: str, token: str | None, reason: str | None = REASON) -> Any:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    params = {} if reason is None else {"reason": reason}
    return await staff_client.get(f"/api/v1/staff/reports/{report_id}/reporter", headers=headers, params=params)


def sample(anonymous: bool = False, consent: bool = True) -> dict[str, Any]:
    body = pii.sample_report()
    body["anonymous"] = anonymous
    body["consent"] = {"use_personal_data": consent, "publish": True}
    return body


async def test_officer_of_the_responsible_agency_sees_the_reporter(
    staff_client: Client, staff_settings: Settings, officer: str
) -> None:
    """200 with the decrypted identity (phone in E.164), not cached, one audit row with who, why and which
    report, and log lines that carry the report id and the actor but no personal data."""
    created = await assigned_report(staff_client, staff_settings)

    with structlog.testing.capture_logs() as logs:
        resp = await view(staff_client, created["id"], officer)

    assert resp.status == 200, await resp.text()
    assert resp.headers["Cache-Control"] == "no-store"
    assert await resp.json() == {
        "report_id": created["id"],
        "tracking_code": created["tracking_code"],
        "reporter": {
            "full_name": pii.FULL_NAME,
            "address": pii.ADDRESS,
            "cccd": pii.CCCD,
            "phone": "+84" + pii.PHONE[1:],
            "email": pii.EMAIL,
        },
    }
    [row] = await audit_rows(staff_settings)
    assert dict(row) | {"id": 0, "at": None, "prev_hash": b"", "hash": b""} == {
        "id": 0,
        "at": None,
        "actor": "officer.snnmt",
        "actor_role": "officer",
        "actor_agency": "SNNMT",
        "action": "identity_viewed",
        "report_id": uuid.UUID(created["id"]),
        "subject": "reporter",
        "reason": REASON,
        "prev_hash": b"",
        "hash": b"",
    }
    viewed = [e for e in logs if e["event"] == "identity_viewed"]
    assert viewed == [
        {"event": "identity_viewed", "log_level": "info", "report_id": created["id"], "actor": "officer.snnmt"}
    ]
    assert pii.find_leaks(repr(logs)) == []


async def test_officer_of_another_agency_gets_the_unknown_report_answer(
    staff_client: Client, staff_settings: Settings, signing_key: str
) -> None:
    """An SXD officer asking for an SNNMT report gets exactly what an unknown report gets: a 404 without
    personal data. The attempt is audited (out of scope)."""
    created = await assigned_report(staff_client, staff_settings)
    sxd = mint_token(signing_key, "officer.sxd", Role.OFFICER, agency="SXD")

    resp = await view(staff_client, created["id"], sxd)
    unknown = await view(staff_client, str(uuid.uuid4()), sxd)

    assert (resp.status, unknown.status) == (404, 404)
    text = await resp.text()
    assert text == await unknown.text()
    assert pii.find_leaks(text) == []
    assert json.loads(text)["errors"][0]["code"] == "report_not_found"
    assert [(r["action"], r["actor"], r["report_id"]) for r in await audit_rows(staff_settings)] == [
        ("identity_out_of_scope", "officer.sxd", uuid.UUID(created["id"]))
    ]


async def test_coordinator_sees_every_report(
    staff_client: Client, staff_settings: Settings, coordinator: str, officer: str
) -> None:
    """A coordinator sees the reporter of an assigned report and of one no agency holds yet; an officer sees
    neither of the unassigned one."""
    assigned = await assigned_report(staff_client, staff_settings)
    waiting = await submitted(staff_client)

    first = await view(staff_client, assigned["id"], coordinator)
    second = await view(staff_client, waiting["id"], coordinator)
    refused = await view(staff_client, waiting["id"], officer)

    assert (first.status, second.status, refused.status) == (200, 200, 404)
    assert (await second.json())["reporter"]["cccd"] == pii.CCCD
    assert pii.find_leaks(await refused.text()) == []
    rows = await audit_rows(staff_settings)
    assert [(r["action"], r["actor_role"], r["actor_agency"]) for r in rows] == [
        ("identity_viewed", "coordinator", None),
        ("identity_viewed", "coordinator", None),
        ("identity_out_of_scope", "officer", "SNNMT"),
    ]


@pytest.mark.parametrize(("anonymous", "consent"), [(True, True), (False, False), (True, False)])
async def test_identity_not_shared_is_refused_and_audited(
    staff_client: Client, staff_settings: Settings, officer: str, anonymous: bool, consent: bool
) -> None:
    """Anonymous, or no consent to agencies seeing who reported: 403 `identity_not_shared` without personal
    data, and the refused attempt is in the audit log."""
    created = await assigned_report(staff_client, staff_settings, sample(anonymous=anonymous, consent=consent))

    resp = await view(staff_client, created["id"], officer)

    assert resp.status == 403
    assert resp.headers["Cache-Control"] == "no-store"
    text = await resp.text()
    assert pii.find_leaks(text) == []
    assert json.loads(text)["errors"] == [
        {
            "field": None,
            "code": "identity_not_shared",
            "message": "Người phản ánh không đồng ý cung cấp thông tin cá nhân hoặc gửi ẩn danh.",
        }
    ]
    [row] = await audit_rows(staff_settings)
    assert (row["action"], row["actor"], row["report_id"], row["reason"]) == (
        "identity_refused",
        "officer.snnmt",
        uuid.UUID(created["id"]),
        REASON,
    )


@pytest.mark.parametrize("reason", [None, "", "   Xem thử   ", "x" * 501])
async def test_a_reason_is_required(
    staff_client: Client, staff_settings: Settings, officer: str, reason: str | None
) -> None:
    """No reason, a blank one, under 10 characters once trimmed, or over 500: 422 and nothing audited."""
    created = await assigned_report(staff_client, staff_settings)

    resp = await view(staff_client, created["id"], officer, reason)

    assert resp.status == 422
    [error] = (await resp.json())["errors"]
    assert (error["field"], error["code"]) == ("reason", "reason_required")
    assert "lý do" in error["message"]
    assert await audit_rows(staff_settings) == []


async def test_a_staff_token_is_required(staff_client: Client, staff_settings: Settings, signing_key: str) -> None:
    """No token: 401; a hotline operator's token: 403. Neither shows anything nor writes an audit row."""
    created = await assigned_report(staff_client, staff_settings)
    operator = mint_token(signing_key, "tong.dai", Role.OPERATOR, agency="SNNMT")

    anonymous_caller = await view(staff_client, created["id"], None)
    hotline = await view(staff_client, created["id"], operator)

    assert (anonymous_caller.status, hotline.status) == (401, 403)
    assert (await anonymous_caller.json())["errors"][0]["code"] == "token_required"
    assert pii.find_leaks(await anonymous_caller.text() + await hotline.text()) == []
    assert await audit_rows(staff_settings) == []


async def test_three_views_leave_a_verified_chain(
    staff_client: Client, staff_settings: Settings, officer: str, coordinator: str
) -> None:
    """Two views and one refusal: three rows, in order, and the chain on intake's schema verifies."""
    named = await assigned_report(staff_client, staff_settings)
    anonymous = await assigned_report(staff_client, staff_settings, sample(anonymous=True))

    statuses = [
        (await view(staff_client, named["id"], officer)).status,
        (await view(staff_client, named["id"], coordinator, "Điều phối kiểm tra lại thông tin liên hệ")).status,
        (await view(staff_client, anonymous["id"], coordinator)).status,
    ]

    assert statuses == [200, 200, 403]
    conn = await connect(staff_settings)
    try:
        check = await audit.verify(conn)
    finally:
        await conn.close()
    assert (check.ok, check.rows) == (True, 3)
    rows = await audit_rows(staff_settings)
    assert [(r["action"], r["actor"]) for r in rows] == [
        ("identity_viewed", "officer.snnmt"),
        ("identity_viewed", "dieu.phoi"),
        ("identity_refused", "dieu.phoi"),
    ]
    assert check.head_hash == bytes(rows[-1]["hash"])


async def test_personal_data_in_the_reason_is_masked(
    staff_client: Client, staff_settings: Settings, officer: str
) -> None:
    """The audit log can never be erased: a reason naming the reporter or their phone is stored masked."""
    created = await assigned_report(staff_client, staff_settings)

    resp = await view(staff_client, created["id"], officer, f"Gọi cho {pii.FULL_NAME} theo số {pii.PHONE} để xác minh")

    assert resp.status == 200
    [row] = await audit_rows(staff_settings)
    assert pii.find_leaks(row["reason"]) == []
    assert row["reason"] == "Gọi cho [đã ẩn] theo số [đã ẩn] để xác minh"


async def test_nothing_is_shown_when_the_audit_row_cannot_be_written(
    staff_client: Client, staff_settings: Settings, officer: str, admin_dsn: str
) -> None:
    """The audit log is gone (a broken migration, say): 503 with Retry-After and no personal data."""
    created = await assigned_report(staff_client, staff_settings)
    conn = await asyncpg.connect(admin_dsn, server_settings={"search_path": staff_settings.db_schema})
    try:
        await conn.execute("DROP TABLE audit_log")
    finally:
        await conn.close()

    resp = await view(staff_client, created["id"], officer)

    assert resp.status == 503
    assert resp.headers["Retry-After"]
    assert (await resp.json())["errors"][0]["code"] == "audit_unavailable"
    assert pii.find_leaks(await resp.text()) == []


async def test_a_malformed_report_id_is_not_found(
    staff_client: Client, staff_settings: Settings, coordinator: str
) -> None:
    """Not a UUID: the same 404 as an unknown report, nothing audited."""
    resp = await view(staff_client, "PA-ABCDEFGH", coordinator)

    assert resp.status == 404
    assert (await resp.json())["errors"][0]["code"] == "report_not_found"
    assert await audit_rows(staff_settings) == []
