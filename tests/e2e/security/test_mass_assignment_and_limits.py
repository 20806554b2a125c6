"""Fields a client must not set, and the submission limits, against the running intake and routing.

Already proven elsewhere and not repeated: the web form's refusal of `status`, `emergency`, `agency` and
unknown keys (intake `tests/unit/test_validation.py`), `emergency` refused on the web door
(`test_hotline.py`), Open311's unknown fields (`tests/unit/test_open311_mapping.py`), the limits per phone and
per address on an in-process app with lowered limits (`tests/integration/test_public.py`), the tracking lock
(`test_citizen_loop.py`). Here: every field the platform decides, on every write door of the running intake
(web, hotline, Open311, the citizen's actions) and on routing's work actions, is refused or has no effect;
and the running intake's real limits answer 429 with Retry-After and write nothing past them.

Media uploads have no per-client limit (the upload token and the claim are the control; unclaimed files are
deleted after an hour), so there is nothing to test for them here.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import asyncpg
import pytest

from paht_shared.auth import Role
from paht_shared.testing import pii
from paht_shared.testing.kafka import until

pytestmark = pytest.mark.e2e

# What the platform decides (intake's validation.CLIENT_MAY_NOT_SET), with values a client might try.
PLATFORM_FIELDS: dict[str, Any] = {
    "id": str(uuid.uuid4()),
    "status": "answered",
    "agency": "SXD",
    "agency_code": "SXD",
    "emergency": True,
    "urgent": True,
    "priority": "high",
    "tracking_code": "PA-AAAAAAAA",
    "due_at": "2030-01-01T00:00:00+07:00",
    "received_at": "2020-01-01T00:00:00+07:00",
    "submitted_at": "2020-01-01T00:00:00+07:00",
    "operator_id": "tong.dai.99",
    "reporter_id": str(uuid.uuid4()),
}
REFUSED_CODES = {"field_not_allowed", "unknown_field"}


def unique_caller() -> int:
    return 5_000_000 + uuid.uuid4().int % 1_000_000


def address() -> str:
    n = uuid.uuid4().int
    return f"198.51.{n % 250}.{n // 250 % 250 + 1}"


class Platform:
    def __init__(self, http: aiohttp.ClientSession, stack: dict[str, Any], mint: Callable[..., str]) -> None:
        self.http = http
        self.intake = f"http://127.0.0.1:{stack['http_ports']['intake']}"
        self.routing = f"http://127.0.0.1:{stack['http_ports']['routing']}"
        self.dsn = str(stack["admin_dsn"])
        self.mint = mint

    def bearer(self, role: Role, agency: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.mint(role, agency)}"}

    async def submit(self, body: dict[str, Any], forwarded: str | None = None) -> tuple[int, Any, Any]:
        headers = {"Idempotency-Key": str(uuid.uuid4()), "X-Forwarded-For": forwarded or address()}
        async with self.http.post(f"{self.intake}/api/v1/reports", json=body, headers=headers) as resp:
            return resp.status, await resp.json(), resp.headers

    async def count_reports(self) -> int:
        conn = await asyncpg.connect(self.dsn)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM intake.reports"))
        finally:
            await conn.close()

    async def routed(self, created: dict[str, Any]) -> str:
        """The agency routing gave the report, once the tracking page shows it assigned."""
        secret = {"X-Tracking-Secret": created["tracking_secret"]}

        async def agency() -> str | None:
            async with self.http.get(f"{self.intake}/api/v1/reports/{created['tracking_code']}", headers=secret) as r:
                tracked = await r.json()
            return tracked["agency"]["code"] if tracked["agency"] and tracked["status"] == "assigned" else None

        code: str = await until(agency, "the report assigned")
        return code


@pytest.fixture
async def live(platform: dict[str, Any], staff_token: Callable[..., str]) -> AsyncIterator[Platform]:
    async with aiohttp.ClientSession() as http:
        yield Platform(http, platform, staff_token)


def codes(answer: Any, field: str) -> set[str]:
    return {e["code"] for e in answer["errors"] if e["field"] == field or e["field"] == f"body.{field}"}


def open311_form(api_key: str, caller: int) -> dict[str, str]:
    """A valid Open311 service request from one integrator, for the caller's phone."""
    return {
        "api_key": api_key,
        "service_code": "moi-truong",
        "description": "Rác thải tồn đọng nhiều ngày trước cổng chợ, bốc mùi hôi.",
        "lat": "9.6025",
        "long": "105.9739",
        "phone": pii.caller_phone(caller),
    }


async def test_the_web_form_refuses_every_field_the_platform_decides(live: Platform) -> None:
    """Each one by name (422 field_not_allowed), alone on an otherwise valid report, and nothing is written."""
    before = await live.count_reports()
    for name, value in PLATFORM_FIELDS.items():
        body = pii.sample_report(caller=unique_caller()) | {name: value}
        status, answer, _ = await live.submit(body)
        assert status == 422, (name, answer)
        assert codes(answer, name) == {"field_not_allowed"}, (name, answer)
    nested = pii.sample_report(caller=unique_caller())
    nested["reporter"] = {**nested["reporter"], "id": str(uuid.uuid4()), "verified": True}  # type: ignore[dict-item]
    status, answer, _ = await live.submit(nested)
    assert status == 422
    assert {e["code"] for e in answer["errors"]} <= REFUSED_CODES
    assert await live.count_reports() == before


async def test_the_hotline_may_flag_an_emergency_and_nothing_else_the_platform_decides(live: Platform) -> None:
    operator = live.bearer(Role.OPERATOR)
    before = await live.count_reports()
    for name, value in PLATFORM_FIELDS.items():
        if name == "emergency":
            continue  # the one thing this door may set (test_hotline.py)
        body = pii.sample_report(caller=unique_caller())
        body["reporter"] = {"full_name": "Lâm Thị Sa Rết", "phone": body["reporter"]["phone"]}  # type: ignore[index]
        body.pop("channel")
        body[name] = value
        headers = operator | {"Idempotency-Key": str(uuid.uuid4())}
        async with live.http.post(f"{live.intake}/api/v1/operator/reports", json=body, headers=headers) as resp:
            answer = await resp.json()
            assert resp.status == 422, (name, answer)
        assert codes(answer, name), (name, answer)
        assert codes(answer, name) <= REFUSED_CODES, (name, answer)
    assert await live.count_reports() == before


async def test_open311_refuses_every_field_the_platform_decides(live: Platform) -> None:
    admin = live.bearer(Role.ADMIN)
    async with live.http.post(
        f"{live.intake}/api/v1/admin/open311-keys", json={"client": "Kiểm thử gán trường"}, headers=admin
    ) as resp:
        assert resp.status == 201, await resp.text()
        key = await resp.json()
    try:
        before = await live.count_reports()
        for name, value in PLATFORM_FIELDS.items():
            form = {**open311_form(key["key"], unique_caller()), name: str(value)}
            async with live.http.post(f"{live.intake}/open311/v2/requests.json", data=form) as resp:
                answer = await resp.text()
                assert resp.status == 400, (name, answer)
        assert await live.count_reports() == before
    finally:
        async with live.http.delete(f"{live.intake}/api/v1/admin/open311-keys/{key['id']}", headers=admin) as resp:
            assert resp.status == 200


async def test_citizen_actions_and_work_actions_refuse_or_ignore_what_they_do_not_decide(live: Platform) -> None:
    """The citizen's actions refuse extra fields (422, and the report is as it was); accepting takes no body,
    so one full of platform fields changes only the status; every other work action refuses them (422) and
    writes no history."""
    status, created, _ = await live.submit(pii.sample_report(category="dien-chieu-sang", caller=unique_caller()))
    assert status == 201, created
    agency = await live.routed(created)
    secret = {"X-Tracking-Secret": created["tracking_secret"]}
    citizen = f"{live.intake}/api/v1/reports/{created['tracking_code']}"
    actions: tuple[tuple[str, dict[str, Any]], ...] = (
        ("notifications", {"email": True, "sms": True, "push": False}),
        ("rating", {"rating": "hai_long"}),
        ("reopen", {"reason": "Vấn đề vẫn chưa được giải quyết."}),
        ("information", {"text": "Bổ sung thông tin cho phản ánh này."}),
    )
    for action, body in actions:
        for name in ("status", "agency_code", "tracking_code", "due_at"):
            async with live.http.post(
                f"{citizen}/{action}", json=body | {name: PLATFORM_FIELDS[name]}, headers=secret
            ) as resp:
                answer = await resp.json()
                assert resp.status == 422, (action, name, answer)
            assert {e["code"] for e in answer["errors"]} <= REFUSED_CODES, (action, name, answer)
    async with live.http.get(citizen, headers=secret) as resp:
        tracked = await resp.json()
    assert (tracked["status"], tracked["agency"]["code"]) == ("assigned", agency)

    officer = live.bearer(Role.OFFICER, agency)
    work = f"{live.routing}/api/v1/work/reports/{created['id']}"
    async with live.http.get(work, headers=officer) as resp:
        assert resp.status == 200, await resp.text()
        before = await resp.json()
    async with live.http.post(f"{work}/accept", json=PLATFORM_FIELDS, headers=officer) as resp:
        assert resp.status == 200, await resp.text()
        accepted = await resp.json()
    assert accepted["status"] == "in_progress"
    assert accepted["agency_code"] == before["agency_code"] == agency
    assert accepted["due_at"] == before["due_at"]
    assert accepted["report_id"] == created["id"]

    valid: dict[str, dict[str, Any]] = {
        "return": {"reason": "Không thuộc thẩm quyền của cơ quan."},
        "information-requests": {"question": "Xin cho biết vị trí chính xác?"},
        "extension-requests": {"days": 3, "reason": "Cần thêm thời gian khảo sát."},
        "updates": {"text": "Đang khảo sát hiện trường."},
        "contributions": {"text": "Ý kiến phối hợp của cơ quan."},
        "answer": {"text": "Đã xử lý xong, cảm ơn người dân đã phản ánh."},
        "reject": {"reason_code": "out_of_scope"},
    }
    async with live.http.get(work, headers=officer) as resp:
        history = len((await resp.json())["history"])
    for action, body in valid.items():
        for name in ("status", "agency_code", "due_at", "id", "report_id", "emergency"):
            extra = PLATFORM_FIELDS.get(name, str(uuid.uuid4()))
            async with live.http.post(f"{work}/{action}", json=body | {name: extra}, headers=officer) as resp:
                answer = await resp.json()
                assert resp.status == 422, (action, name, answer)
            assert {e["code"] for e in answer["errors"]} <= REFUSED_CODES, (action, name, answer)
    coordinator = live.bearer(Role.COORDINATOR)
    reassign = {"agency_code": agency, "reason": "Điều phối lại cho đúng cơ quan.", "due_at": "2030-01-01"}
    async with live.http.post(
        f"{live.routing}/api/v1/coordination/reports/{created['id']}/reassign", json=reassign, headers=coordinator
    ) as resp:
        assert resp.status == 422, await resp.text()
    async with live.http.get(work, headers=officer) as resp:
        after = await resp.json()
    assert len(after["history"]) == history
    assert (after["status"], after["agency_code"], after["due_at"]) == ("in_progress", agency, before["due_at"])


async def test_the_address_limit_answers_429_with_retry_after_and_writes_nothing(live: Platform) -> None:
    """The running intake trusts X-Forwarded-For from 127.0.0.1: 20 requests a minute from one forwarded
    address (even invalid ones count), then 429 with Retry-After, a valid report included, and no row."""
    here = address()
    for _ in range(20):
        status, answer, _ = await live.submit({}, here)
        assert status == 422, answer
    before = await live.count_reports()
    status, answer, headers = await live.submit(pii.sample_report(caller=unique_caller()), here)
    assert status == 429, answer
    assert answer["errors"][0]["code"] == "too_many_submissions"
    assert 0 < int(headers["Retry-After"]) <= 60
    status, _, _ = await live.submit(pii.sample_report(caller=unique_caller()), address())
    assert status == 201  # another address is not held back
    assert await live.count_reports() == before + 1


async def test_the_phone_limit_holds_across_addresses_and_doors(live: Platform) -> None:
    """10 reports from one phone in an hour, each from its own address; the 11th is a 429 with Retry-After on
    the web door and on Open311 alike, and neither writes a report."""
    caller = unique_caller()
    for _ in range(10):
        status, answer, _ = await live.submit(pii.sample_report(caller=caller))
        assert status == 201, answer
    before = await live.count_reports()
    status, answer, headers = await live.submit(pii.sample_report(caller=caller))
    assert status == 429, answer
    assert answer["errors"][0]["code"] == "too_many_submissions"
    assert int(headers["Retry-After"]) > 0
    admin = live.bearer(Role.ADMIN)
    async with live.http.post(
        f"{live.intake}/api/v1/admin/open311-keys", json={"client": "Kiểm thử giới hạn"}, headers=admin
    ) as resp:
        key = await resp.json()
    try:
        form = open311_form(key["key"], caller)
        async with live.http.post(f"{live.intake}/open311/v2/requests.json", data=form) as resp:
            assert resp.status == 429, await resp.text()
            assert int(resp.headers["Retry-After"]) > 0
    finally:
        async with live.http.delete(f"{live.intake}/api/v1/admin/open311-keys/{key['id']}", headers=admin) as resp:
            assert resp.status == 200
    assert await live.count_reports() == before
