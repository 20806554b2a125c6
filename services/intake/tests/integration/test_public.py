"""What the public sees, against the real PostgreSQL: only public reports, personal data masked, search
without diacritics, counts; and the submission limits per address and per phone."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from intake_helpers import Client, connect, routing_says, submit, submitted

from intake.app import build_app
from intake.config import Settings
from paht_shared.contracts import ReportStatus
from paht_shared.testing import pii

NAMED_TITLE = f"Gọi {pii.FULL_NAME} số {pii.PHONE} về rác"


def report(n: int, public: bool) -> dict[str, Any]:
    body = pii.sample_report(category=("moi-truong", "cap-thoat-nuoc")[n % 2], ward_code=("31507", "31510")[n % 2])
    body["public"] = public
    if n % 2:
        body["title"] = f"Ngập nước đường số {n}"
        body["content"] = f"Đường ngập nước sâu sau mưa lớn, xe máy chết máy; CCCD tôi {pii.CCCD}, email {pii.EMAIL}."
    else:
        body["title"] = NAMED_TITLE
    return body


@pytest.fixture
async def thousand(client: Client) -> dict[bool, set[str]]:
    """1,000 reports, every third one public; their tracking codes by public flag."""
    codes: dict[bool, set[str]] = {True: set(), False: set()}
    semaphore = asyncio.Semaphore(16)

    async def one(n: int) -> None:
        public = n % 3 == 0
        async with semaphore:
            created = await submitted(client, report(n, public))
        codes[public].add(created["tracking_code"])

    await asyncio.gather(*(one(n) for n in range(1000)))
    return codes


async def public_pages(client: Client, query: str = "") -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        resp = await client.get(f"/api/v1/public/reports?per_page=100&page={page}{query}")
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        items.extend(body["items"])
        if len(items) >= body["total"] or not body["items"]:
            return items, body["total"]
        page += 1


async def test_public_list_of_a_thousand_shows_exactly_the_public_ones_masked(
    client: Client, thousand: dict[bool, set[str]]
) -> None:
    """334 public among 1,000: the list has exactly those, and no phone, CCCD, email or reporter name."""
    items, total = await public_pages(client)
    assert total == len(thousand[True]) == 334
    assert {i["tracking_code"] for i in items} == thousand[True]
    text = json.dumps(items, ensure_ascii=False)
    assert pii.find_leaks(text) == []
    assert "[đã ẩn]" in text
    assert not {"reporter", "full_name", "phone", "email", "cccd"} & {k for i in items for k in i}
    private = next(iter(thousand[False]))
    assert (await client.get(f"/api/v1/public/reports/{private}")).status == 404
    shown = await client.get(f"/api/v1/public/reports/{next(iter(thousand[True]))}")
    assert shown.status == 200
    assert pii.find_leaks(await shown.text()) == []


async def test_search_without_diacritics_and_filters(client: Client, thousand: dict[bool, set[str]]) -> None:
    """ "ngap nuoc" finds the public "Ngập nước" reports (odd n, public: n divisible by 3); filters narrow."""
    found, total = await public_pages(client, "&q=ngap%20nuoc")
    assert total == len([n for n in range(1000) if n % 3 == 0 and n % 2 == 1]) == 167
    assert all("Ngập nước" in i["title"] for i in found)
    by_ward, _ = await public_pages(client, "&ward_code=31507")
    assert by_ward
    assert {i["ward"]["code"] for i in by_ward} == {"31507"}
    by_category, _ = await public_pages(client, "&category=cap-thoat-nuoc&q=NGẬP")
    assert len(by_category) == 167
    bad = await client.get("/api/v1/public/reports?per_page=1000&colour=red")
    assert bad.status == 422
    assert {e["code"] for e in (await bad.json())["errors"]} == {"unknown_field"}
    nul = await client.get("/api/v1/public/reports?category=%00")  # PostgreSQL refuses NUL in text
    assert (nul.status, (await nul.json())["errors"][0]["code"]) == (400, "invalid_text")
    bad = await client.get("/api/v1/public/reports?per_page=1000")
    assert [(e["field"], e["code"]) for e in (await bad.json())["errors"]] == [("per_page", "out_of_range")]


async def test_public_answer_and_stats(client: Client, intake_settings: Settings) -> None:
    """An answered public report shows its answer masked; stats count by category, ward, status and month,
    and the share answered on time."""
    public = await submitted(client, report(1, public=True))
    late = await submitted(client, report(3, public=False))
    await submitted(client, report(2, public=True))
    await routing_says(intake_settings, public, 1, ReportStatus.ANSWERED, message=f"Đã xử lý, gọi {pii.PHONE}.")
    past = datetime.fromisoformat("2020-01-01T00:00:00+00:00")
    await routing_says(intake_settings, late, 1, ReportStatus.ASSIGNED, due_at=past)
    await routing_says(intake_settings, late, 2, ReportStatus.ANSWERED, message="Đã xử lý.")
    shown = await (await client.get(f"/api/v1/public/reports/{public['tracking_code']}")).json()
    assert shown["answer"]["text"].startswith("Đã xử lý, gọi [đã ẩn]")
    assert (shown["lat"], shown["lon"]) == (9.6025, 105.9739)  # the map point, for the public map
    listed = await (await client.get("/api/v1/public/reports?per_page=100")).json()
    assert {(i["lat"], i["lon"]) for i in listed["items"]} == {(9.6025, 105.9739)}
    stats = await (await client.get("/api/v1/public/stats")).json()
    assert stats["total"] == 3
    assert stats["answers"] == {"answered": 2, "answered_on_time": 1, "on_time_ratio": 0.5}
    assert {c["code"]: c["count"] for c in stats["by_category"]} == {"cap-thoat-nuoc": 2, "moi-truong": 1}
    assert {s["status"]: s["count"] for s in stats["by_status"]} == {"answered": 2, "submitted": 1}
    assert sum(stats["by_month"].values()) == 3


@pytest.fixture
async def strict_client(intake_settings: Settings) -> AsyncIterator[Client]:
    settings = intake_settings.model_copy(
        update={"submissions_per_phone_per_hour": 3, "submissions_per_ip_per_minute": 5}
    )
    async with TestClient(TestServer(build_app(settings))) as test_client:
        yield test_client


async def test_submission_limits_per_phone_and_per_address(strict_client: Client, intake_settings: Settings) -> None:
    """A phone's 4th report in the hour and an address's 6th request in the minute get 429 with Retry-After,
    and write nothing; an idempotent retry of an accepted report still gets its receipt."""
    first = await submit(strict_client, key="same")
    assert first.status == 201
    for _ in range(2):
        assert (await submit(strict_client)).status == 201
    fourth = await submit(strict_client)
    assert fourth.status == 429
    assert int(fourth.headers["Retry-After"]) > 0
    assert (await fourth.json())["errors"][0]["code"] == "too_many_submissions"
    assert (await submit(strict_client, key="same")).status == 201  # the replay: 5th request from this address
    sixth = await submit(strict_client)
    assert sixth.status == 429
    forwarded = await strict_client.post(
        "/api/v1/reports",
        json=pii.sample_report(),
        headers={"Idempotency-Key": str(uuid.uuid4()), "X-Forwarded-For": "203.0.113.7"},
    )
    assert forwarded.status == 429  # another address (through the trusted local proxy), but the same phone
    assert (await forwarded.json())["errors"][0]["message"].startswith("Số điện thoại")
    conn = await connect(intake_settings)
    try:
        assert await conn.fetchval("SELECT count(*) FROM reports") == 3
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 3
    finally:
        await conn.close()
