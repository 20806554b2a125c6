"""The answer loop through the running platform, like real clients: a citizen submits, routing assigns, the
agency's officer accepts and answers through the agency API, the citizen reads the answer on the tracking
page, rates it (routing closes the report), and the public sees the answer, masked."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from paht_shared.auth import Role
from paht_shared.testing import pii

pytestmark = pytest.mark.e2e


async def until(check: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError("the platform did not get there in time")


async def test_submit_assign_accept_answer_read_rate_close(
    platform: dict[str, Any], staff_token: Callable[..., str]
) -> None:
    """Each step is one status event and one timeline entry on the citizen's page, in order."""
    intake = f"http://127.0.0.1:{platform['http_ports']['intake']}"
    routing = f"http://127.0.0.1:{platform['http_ports']['routing']}"
    body = pii.sample_report(category="dien-chieu-sang", caller=7)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{intake}/api/v1/reports", json=body, headers=pii.caller_headers(7)) as resp:
            assert resp.status == 201, await resp.text()
            created = await resp.json()
        secret = {"X-Tracking-Secret": created["tracking_secret"]}
        tracking = f"{intake}/api/v1/reports/{created['tracking_code']}"

        async def page_with(status: str) -> dict[str, Any] | None:
            async with http.get(tracking, headers=secret) as resp:
                shown: dict[str, Any] = await resp.json()
            return shown if shown["status"] == status else None

        assigned = await until(lambda: page_with("assigned"))
        agency = assigned["agency"]["code"]
        officer = {"Authorization": f"Bearer {staff_token(Role.OFFICER, agency)}"}
        work = f"{routing}/api/v1/work/reports/{created['id']}"
        async with http.post(f"{work}/accept", headers=officer) as resp:
            assert resp.status == 200, await resp.text()
        await until(lambda: page_with("in_progress"))
        answer = "Điện lực đã thay bóng đèn và kiểm tra toàn tuyến đường trước chợ."
        async with http.post(f"{work}/answer", json={"text": answer}, headers=officer) as resp:
            assert resp.status == 200, await resp.text()
        answered = await until(lambda: page_with("answered"))
        assert answered["answer"]["text"] == answer
        assert answered["answer"]["agency"]["code"] == agency
        assert {a["action"] for a in answered["next_actions"]} == {"rate", "reopen"}

        async with http.post(f"{tracking}/rating", json={"rating": "hai_long"}, headers=secret) as resp:
            assert resp.status == 200, await resp.text()
        closed = await until(lambda: page_with("closed"))
        assert [(t["status"], t["actor"]) for t in closed["timeline"]] == [
            ("submitted", "system"),
            ("assigned", "agency"),
            ("in_progress", "agency"),
            ("answered", "agency"),
            ("rated", "citizen"),
            ("closed", "agency"),
        ]
        async with http.get(f"{intake}/api/v1/public/reports/{created['tracking_code']}") as resp:
            public = await resp.json()
        assert public["answer"]["text"] == answer
        assert pii.find_leaks(str(public)) == []
