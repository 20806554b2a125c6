"""The agencies' work against the real PostgreSQL, over HTTP with staff tokens: each change one numbered
status event, in order; officers confined to their agency; returns, requests for information, extensions,
merges, rejections, the deadline watch, expired agencies, and the citizen's actions."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from paht_shared.auth import Role, generate_signing_key, mint_token, public_jwks
from paht_shared.consumer import handle_once
from paht_shared.contracts import (
    InformationProvidedV1,
    ReportRatedV1,
    ReportReopenedV1,
    ReportSubmittedV1,
    topics,
)
from paht_shared.db import create_pool
from paht_shared.envelope import Envelope
from routing.app import build_app
from routing.config import Settings
from routing.consumers import ASSIGN, CITIZEN, subscriptions
from routing.deadlines import DeadlineWatch
from routing.directory import load_reference_data
from routing.service import workflow_of

Client = TestClient[Any, Any]
WARD = "31507"  # Phường Sóc Trăng


@pytest.fixture
def signing_key() -> str:
    return generate_signing_key()


@pytest.fixture
async def settings(admin_dsn: str, service_schema: Callable[[str], Awaitable[str]], signing_key: str) -> Settings:
    settings = Settings(
        database_url=admin_dsn,
        db_schema=await service_schema("routing"),
        auth_jwks=json.dumps(public_jwks(signing_key)),
    )
    await load_reference_data(settings)
    return settings


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(settings.database_url, settings.db_schema)
    yield pool
    await pool.close()


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    async with TestClient(TestServer(build_app(settings))) as test_client:
        yield test_client


class Staff:
    """Tokens for the people in these tests."""

    def __init__(self, key: str) -> None:
        self.key = key

    def officer(self, agency: str) -> dict[str, str]:
        return self._bearer(mint_token(self.key, f"officer.{agency.lower()}", Role.OFFICER, agency=agency))

    def coordinator(self) -> dict[str, str]:
        return self._bearer(mint_token(self.key, "dieu.phoi", Role.COORDINATOR))

    def operator(self) -> dict[str, str]:
        return self._bearer(mint_token(self.key, "tong.dai", Role.OPERATOR, agency="VP-UBND"))

    @staticmethod
    def _bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def staff(signing_key: str) -> Staff:
    return Staff(signing_key)


async def submit(
    pool: asyncpg.Pool,
    settings: Settings,
    category: str = "dien-chieu-sang",
    ward_code: str | None = WARD,
    **extra: Any,
) -> uuid.UUID:
    """report.submitted through routing's own handler (inbox included), as the consumer would apply it."""
    report = ReportSubmittedV1(
        report_id=uuid.uuid4(),
        tracking_code="PA-" + uuid.uuid4().hex[:8].upper(),
        category=category,
        title="Đèn đường hỏng",
        content="Đèn đường trước nhà số 5 hỏng cả tuần, tối om.",
        ward_code=ward_code,
        submitted_at=datetime.now(UTC),
        received_at=datetime.now(UTC),
        public=True,
        anonymous=False,
        identity_shared=True,
        **({"channel": "web"} | extra),
    )
    (assign, _citizen) = subscriptions(settings)
    assert await handle_once(pool, ASSIGN, Envelope.of(report, "intake", "c"), topics.REPORT_SUBMITTED, assign.handle)
    return report.report_id


async def citizen_does(pool: asyncpg.Pool, settings: Settings, payload: Any) -> None:
    (_assign, citizen) = subscriptions(settings)
    envelope = Envelope.of(payload, "intake", "c")
    assert await handle_once(pool, CITIZEN, envelope, topics.REPORT_CITIZEN_ACTIONS, citizen.handle)


async def status_events(pool: asyncpg.Pool, report_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT payload FROM outbox WHERE topic = $1 AND key = $2 ORDER BY id",
        topics.REPORT_STATUS_CHANGED,
        str(report_id),
    )
    return [json.loads(bytes(r["payload"]))["data"] for r in rows]


async def lead_of(pool: asyncpg.Pool, report_id: uuid.UUID) -> str:
    return str(await pool.fetchval("SELECT agency_code FROM assignments WHERE report_id = $1", report_id))


def work(report_id: uuid.UUID, action: str = "") -> str:
    return f"/api/v1/work/reports/{report_id}" + (f"/{action}" if action else "")


async def test_accept_then_answer_gives_the_events_in_order(
    client: Client, pool: asyncpg.Pool, settings: Settings, staff: Staff
) -> None:
    """assigned (1) → in_progress (2) → answered (3), each one status event with its sequence; the answer
    travels masked; answering twice or accepting twice is a 409 with its code; the view lists the report's
    files."""
    photo = uuid.uuid4()
    report_id = await submit(pool, settings, media_ids=(photo,))
    lead = await lead_of(pool, report_id)
    officer = staff.officer(lead)
    shown = await (await client.get(work(report_id), headers=officer)).json()
    assert shown["media_ids"] == [str(photo)]
    early = await client.post(
        work(report_id, "answer"), json={"text": "Đã thay bóng đèn mới cho tuyến đường."}, headers=officer
    )
    assert early.status == 409
    assert (await early.json())["errors"][0]["code"] == "not_accepted"
    assert (await client.post(work(report_id, "accept"), headers=officer)).status == 200
    twice = await client.post(work(report_id, "accept"), headers=officer)
    assert (twice.status, (await twice.json())["errors"][0]["code"]) == (409, "already_accepted")
    answer = "Đã thay bóng đèn, liên hệ anh Tư 0912 345 678 nếu còn hỏng."
    resp = await client.post(work(report_id, "answer"), json={"text": answer}, headers=officer)
    assert resp.status == 200, await resp.text()
    changes = await status_events(pool, report_id)
    assert [(c["sequence"], c["status"]) for c in changes] == [(1, "assigned"), (2, "in_progress"), (3, "answered")]
    assert "0912 345 678" not in changes[-1]["message"]
    again = await client.post(work(report_id, "answer"), json={"text": answer}, headers=officer)
    assert (await again.json())["errors"][0]["code"] == "report_closed"


async def test_every_work_route_hides_another_agencys_report(
    client: Client, pool: asyncpg.Pool, settings: Settings, staff: Staff
) -> None:
    """Generated from the route table: for every work route, an officer of another agency gets 404 on this
    report, the operator 403, no token 401; every coordination route refuses officers with 403."""
    report_id = await submit(pool, settings)
    lead = await lead_of(pool, report_id)
    other = "SYT" if lead != "SYT" else "SXD"
    routes = [
        (r.method, r.resource.canonical)
        for r in client.app.router.routes()
        if r.resource is not None and r.method in ("GET", "POST") and "/{report_id}" in r.resource.canonical
    ]
    assert len(routes) >= 12
    for method, template in routes:
        path = template.replace("{report_id}", str(report_id))
        coordination = template.startswith("/api/v1/coordination")
        # coordination is the coordinator's: an officer's role is refused before any report is read
        for headers, expected in (
            (staff.officer(other), 403 if coordination else 404),
            (staff.operator(), 403),
            ({}, 401),
        ):
            resp = await client.request(method, path, json={}, headers=headers)
            assert resp.status == expected, (method, template, headers.keys(), resp.status)
    assert [c["status"] for c in await status_events(pool, report_id)] == ["assigned"]  # nothing changed


async def test_return_reroutes_to_the_next_matching_agency_and_counts(
    client: Client, pool: asyncpg.Pool, settings: Settings, staff: Staff
) -> None:
    """A ward committee returns a report as not its competence: the next matching rule's agency gets it,
    the return is counted in the coordinator's load, and the timeline shows returned then assigned."""
    await pool.execute(
        "INSERT INTO routing_rules (category, ward_code, agency_code) VALUES ('giao-thong', $1, $2)",
        WARD,
        f"UBND-{WARD}",
    )
    report_id = await submit(pool, settings, category="giao-thong")
    assert await lead_of(pool, report_id) == f"UBND-{WARD}"
    resp = await client.post(
        work(report_id, "return"),
        json={"reason": "Quốc lộ do Sở Xây dựng quản lý."},
        headers=staff.officer(f"UBND-{WARD}"),
    )
    assert resp.status == 200, await resp.text()
    assert await lead_of(pool, report_id) == "SXD"
    changes = await status_events(pool, report_id)
    assert [(c["status"], c["agency_code"]) for c in changes][-2:] == [
        ("returned", f"UBND-{WARD}"),
        ("assigned", "SXD"),
    ]
    load = await (await client.get("/api/v1/coordination/load", headers=staff.coordinator())).json()
    assert {row["code"]: row["returns"] for row in load}[f"UBND-{WARD}"] == 1
    # the new agency sees it; the one that returned it no longer does
    assert (await client.get(work(report_id), headers=staff.officer("SXD"))).status == 200
    assert (await client.get(work(report_id), headers=staff.officer(f"UBND-{WARD}"))).status == 404


async def test_information_request_pauses_and_the_reply_resumes_the_clock(
    client: Client, pool: asyncpg.Pool, settings: Settings, staff: Staff
) -> None:
    """needs_info stops the deadline; the citizen's reply (an intake event) resumes it, later by the pause."""
    report_id = await submit(pool, settings)
    officer = staff.officer(await lead_of(pool, report_id))
    await client.post(work(report_id, "accept"), headers=officer)
    due_before = await pool.fetchval("SELECT due_at FROM assignments WHERE report_id = $1", report_id)
    resp = await client.post(
        work(report_id, "information-requests"), json={"question": "Xin cho biết số nhà cụ thể?"}, headers=officer
    )
    assert (await resp.json())["status"] == "needs_info"
    await pool.execute(
        "UPDATE assignments SET paused_at = paused_at - interval '2 hours' WHERE report_id = $1", report_id
    )
    await citizen_does(
        pool,
        settings,
        InformationProvidedV1(
            report_id=report_id, tracking_code="PA-X", text="Số nhà 5.", provided_at=datetime.now(UTC)
        ),
    )
    row = await pool.fetchrow("SELECT status, due_at, paused_at FROM assignments WHERE report_id = $1", report_id)
    assert row["status"] == "in_progress"
    assert row["paused_at"] is None
    assert timedelta(hours=2) <= row["due_at"] - due_before < timedelta(hours=2, minutes=1)
    assert [c["status"] for c in await status_events(pool, report_id)][-2:] == ["needs_info", "in_progress"]


async def test_extension_needs_the_coordinator(
    client: Client, pool: asyncpg.Pool, settings: Settings, staff: Staff
) -> None:
    """The agency asks for 3 more working days; officers cannot approve; the coordinator does: a new
    deadline and one status event saying so; a second decision finds nothing pending."""
    report_id = await submit(pool, settings)
    officer = staff.officer(await lead_of(pool, report_id))
    due_before = await pool.fetchval("SELECT due_at FROM assignments WHERE report_id = $1", report_id)
    body = {"days": 3, "reason": "Cần khảo sát hiện trường với điện lực."}
    assert (await client.post(work(report_id, "extension-requests"), json=body, headers=officer)).status == 200
    decide = f"/api/v1/coordination/reports/{report_id}/extension"
    assert (await client.post(decide, json={"approve": True}, headers=officer)).status == 403
    resp = await client.post(decide, json={"approve": True}, headers=staff.coordinator())
    assert resp.status == 200, await resp.text()
    due_after = await pool.fetchval("SELECT due_at FROM assignments WHERE report_id = $1", report_id)
    assert workflow_of(settings).deadlines.extended(due_before, 3) == due_after
    last = (await status_events(pool, report_id))[-1]
    assert last["note"].startswith("Gia hạn")
    assert last["sequence"] == 2
    again = await client.post(decide, json={"approve": True}, headers=staff.coordinator())
    assert (await again.json())["errors"][0]["code"] == "no_extension_requested"


async def test_merged_duplicates_get_one_answer(
    client: Client, pool: asyncpg.Pool, settings: Settings, staff: Staff
) -> None:
    """The coordinator merges a duplicate into the first report; the first one's answer reaches both."""
    first = await submit(pool, settings)
    duplicate = await submit(pool, settings)
    coordinator = staff.coordinator()
    resp = await client.post(
        f"/api/v1/coordination/reports/{duplicate}/merge", json={"into": str(first)}, headers=coordinator
    )
    assert resp.status == 200, await resp.text()
    officer = staff.officer(await lead_of(pool, first))
    await client.post(work(first, "accept"), headers=officer)
    text = "Đã sửa chữa hệ thống chiếu sáng toàn tuyến."
    assert (await client.post(work(first, "answer"), json={"text": text}, headers=officer)).status == 200
    for report_id in (first, duplicate):
        last = (await status_events(pool, report_id))[-1]
        assert (last["status"], last["message"]) == ("answered", text)


async def test_reject_with_a_reason_code(client: Client, pool: asyncpg.Pool, settings: Settings, staff: Staff) -> None:
    """A complaint belonging to another legal channel: rejected with its code and the citizen's explanation;
    an unknown code is a 422."""
    report_id = await submit(pool, settings)
    officer = staff.officer(await lead_of(pool, report_id))
    bad = await client.post(work(report_id, "reject"), json={"reason_code": "lazy"}, headers=officer)
    assert bad.status == 422
    resp = await client.post(work(report_id, "reject"), json={"reason_code": "other_channel"}, headers=officer)
    assert resp.status == 200
    last = (await status_events(pool, report_id))[-1]
    assert (last["status"], last["reason_code"]) == ("rejected", "other_channel")
    assert "khiếu nại" in last["message"]


async def test_overdue_reports_are_marked_announced_and_escalated(
    client: Client, pool: asyncpg.Pool, settings: Settings, staff: Staff
) -> None:
    """A deadline in the past: one pass marks it overdue, publishes report.deadline (escalated to the
    coordinator) and lists it for the coordinator; the next pass does not announce it again."""
    late = await submit(pool, settings)
    soon = await submit(pool, settings)
    await pool.execute("UPDATE assignments SET due_at = now() - interval '1 minute' WHERE report_id = $1", late)
    await pool.execute("UPDATE assignments SET due_at = now() + interval '2 hours' WHERE report_id = $1", soon)
    watch = DeadlineWatch(pool, workflow_of(settings), settings)
    overdue, due_soon, _moved = await watch.watch_once()
    assert (overdue, due_soon) >= (1, 1)
    assert await watch.watch_once() == (0, 0, 0)
    rows = await pool.fetch("SELECT key, payload FROM outbox WHERE topic = $1", topics.REPORT_DEADLINES)
    kinds = {r["key"]: json.loads(bytes(r["payload"]))["data"] for r in rows}
    assert kinds[str(late)]["kind"] == "overdue"
    assert kinds[str(late)]["escalated_to"] == settings.coordinator_agency
    assert kinds[str(soon)]["kind"] == "due_soon"
    listed = await (await client.get("/api/v1/coordination/overdue", headers=staff.coordinator())).json()
    assert [i["report_id"] for i in listed["items"]] == [str(late)]
    queue = await (
        await client.get("/api/v1/work/reports?overdue=true", headers=staff.officer(await lead_of(pool, late)))
    ).json()
    assert [i["report_id"] for i in queue["items"]] == [str(late)]


async def test_an_expired_agencys_open_reports_move_under_the_new_rules(pool: asyncpg.Pool, settings: Settings) -> None:
    """An agency closed by a merger: its open report is re-routed by the current rules, with the reason."""
    report_id = await submit(pool, settings)
    old = await lead_of(pool, report_id)
    await pool.execute("INSERT INTO agencies (code, name) VALUES ('SO-MOI', 'Sở mới sau sáp nhập')")
    await pool.execute("UPDATE routing_rules SET agency_code = 'SO-MOI' WHERE agency_code = $1", old)
    await pool.execute("UPDATE agencies SET valid_to = now() - interval '1 second' WHERE code = $1", old)
    moved = await workflow_of(settings).reroute_expired(pool)
    assert moved == 1
    assert await lead_of(pool, report_id) == "SO-MOI"
    last = (await status_events(pool, report_id))[-1]
    assert last["status"] == "assigned"
    assert "không còn hoạt động" in last["note"]


async def test_the_citizen_reopens_then_rates(
    client: Client, pool: asyncpg.Pool, settings: Settings, staff: Staff
) -> None:
    """Reopened after the answer: back to the same agency with a new deadline; rated after the next answer:
    closed. Each is one status event."""
    report_id = await submit(pool, settings)
    lead = await lead_of(pool, report_id)
    officer = staff.officer(lead)
    for _ in range(2):
        await client.post(work(report_id, "accept"), headers=officer)
        await client.post(
            work(report_id, "answer"), json={"text": "Đã xử lý xong sự việc tại hiện trường."}, headers=officer
        )
        if _ == 0:
            await citizen_does(
                pool,
                settings,
                ReportReopenedV1(report_id=report_id, tracking_code="PA-X", reason="Vẫn còn hỏng.", reopen_count=1,
                                 reopened_at=datetime.now(UTC)),
            )  # fmt: skip
            assert await lead_of(pool, report_id) == lead
    await citizen_does(
        pool,
        settings,
        ReportRatedV1(report_id=report_id, tracking_code="PA-X", rating="hai_long", rated_at=datetime.now(UTC)),
    )
    statuses = [c["status"] for c in await status_events(pool, report_id)]
    assert statuses == ["assigned", "in_progress", "answered", "assigned", "in_progress", "answered", "closed"]


async def test_no_rule_goes_to_triage_and_the_coordinator_reassigns(
    client: Client, pool: asyncpg.Pool, settings: Settings, staff: Staff
) -> None:
    """A category no rule covers lands in the coordinator's triage queue; reassigning gives it to the chosen
    agency (with co-processing agencies), which then sees it."""
    await pool.execute("DELETE FROM routing_rules WHERE category = 'khac'")
    report_id = await submit(pool, settings, category="khac")
    assert await lead_of(pool, report_id) == settings.coordinator_agency
    triage = await (await client.get("/api/v1/coordination/triage", headers=staff.coordinator())).json()
    assert str(report_id) in [i["report_id"] for i in triage["items"]]
    body = {"agency_code": "SXD", "co_agencies": ["SNNMT"], "reason": "Thuộc lĩnh vực xây dựng."}
    url = f"/api/v1/coordination/reports/{report_id}/reassign"
    unknown = await client.post(url, json={**body, "agency_code": "KHONG-CO"}, headers=staff.coordinator())
    assert unknown.status == 422
    resp = await client.post(url, json=body, headers=staff.coordinator())
    assert resp.status == 200, await resp.text()
    assert (await client.get(work(report_id), headers=staff.officer("SNNMT"))).status == 200  # co-processing
    answer = await client.post(work(report_id, "accept"), headers=staff.officer("SNNMT"))
    assert (answer.status, (await answer.json())["errors"][0]["code"]) == (403, "not_lead_agency")
    contribution = await client.post(
        work(report_id, "contributions"),
        json={"text": "Đất này thuộc quy hoạch cây xanh."},
        headers=staff.officer("SNNMT"),
    )
    assert contribution.status == 200


async def test_an_incomplete_report_waits_in_triage_as_needs_info_until_the_reporter_answers(
    client: Client, pool: asyncpg.Pool, settings: Settings, staff: Staff
) -> None:
    """An emailed report without its place: even with a category a rule covers it goes to the coordinator,
    as needs_info with the clock stopped and the question listing what is missing (reason missing_fields,
    which notify does not tell twice); the reporter's answer puts it in progress for the coordinator."""
    report_id = await submit(pool, settings, ward_code=None, channel="email", missing=("location",))

    assert await lead_of(pool, report_id) == settings.coordinator_agency
    row = await pool.fetchrow("SELECT status, triage, paused_at FROM assignments WHERE report_id = $1", report_id)
    assert (row["status"], row["triage"], row["paused_at"] is not None) == ("needs_info", True, True)
    [change] = await status_events(pool, report_id)
    assert (change["status"], change["reason_code"], change["triage"]) == ("needs_info", "missing_fields", True)
    assert "địa điểm" in change["message"]
    assert "lĩnh vực" not in change["message"]
    triage = await (await client.get("/api/v1/coordination/triage", headers=staff.coordinator())).json()
    assert str(report_id) in [i["report_id"] for i in triage["items"]]
    await citizen_does(
        pool,
        settings,
        InformationProvidedV1(
            report_id=report_id, tracking_code="PA-X", text="Trước số 5 đường Lê Lợi, Phường Phú Lợi.",
            provided_at=datetime.now(UTC),
        ),
    )  # fmt: skip
    assert [c["status"] for c in await status_events(pool, report_id)] == ["needs_info", "in_progress"]
    assert await lead_of(pool, report_id) == settings.coordinator_agency


async def test_an_emergency_call_gets_the_emergency_deadline(pool: asyncpg.Pool, settings: Settings) -> None:
    """A hotline emergency is due hours after it was entered, not working days after the desk opens."""
    report_id = await submit(pool, settings, channel="hotline", emergency=True, operator_id="tong.dai.01")

    row = await pool.fetchrow("SELECT emergency, assigned_at, due_at FROM assignments WHERE report_id = $1", report_id)
    assert row["emergency"] is True
    assert row["due_at"] - row["assigned_at"] <= timedelta(hours=settings.emergency_hours, seconds=5)
    [change] = await status_events(pool, report_id)
    assert change["emergency"] is True  # notify tells the agency at once, never in a digest


async def test_the_answers_files_travel_with_their_upload_proofs(
    client: Client, pool: asyncpg.Pool, settings: Settings, staff: Staff
) -> None:
    """The officer attaches files with their upload tokens: the answered change lists them and carries each
    id with the token's SHA-256 for media to claim, never the token; the agency's view lists them."""
    report_id = await submit(pool, settings)
    officer = staff.officer(await lead_of(pool, report_id))
    assert (await client.post(work(report_id, "accept"), headers=officer)).status == 200
    photo = {"id": str(uuid.uuid4()), "upload_token": "tok-" + uuid.uuid4().hex}

    resp = await client.post(
        work(report_id, "answer"),
        json={"text": "Đã thay bóng đèn mới, ảnh nghiệm thu đính kèm.", "media": [photo]},
        headers=officer,
    )

    assert resp.status == 200, await resp.text()
    assert (await resp.json())["answer_media_ids"] == [photo["id"]]
    answered = (await status_events(pool, report_id))[-1]
    assert answered["media_ids"] == [photo["id"]]
    digest = hashlib.sha256(photo["upload_token"].encode()).hexdigest()
    assert answered["media"] == [{"media_id": photo["id"], "token_sha256": digest}]
    raw = await pool.fetchval("SELECT string_agg(convert_from(payload, 'UTF8'), '') FROM outbox")
    assert photo["upload_token"] not in raw
