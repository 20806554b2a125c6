"""A report through all four services and the real servers, driven over HTTP like a user would."""

from __future__ import annotations

import asyncio
import json
import mailbox
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from paht_shared.auth import Role
from paht_shared.testing import pii
from paht_shared.testing.mail import recent_mail


async def test_every_service_answers_readyz(platform: dict[str, Any]) -> None:
    """After `make run` each service's /readyz is 200 with all its checks ok."""
    async with aiohttp.ClientSession() as http:
        for service, port in platform["http_ports"].items():
            async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
                body = await resp.json()
                assert resp.status == 200, (service, body)
                assert set(body["checks"].values()) == {"ok"}, (service, body)


def agency_emails(mail_dir: str, report_id: str) -> list[mailbox.MaildirMessage]:
    return [
        m
        for m in recent_mail(mail_dir)
        if m["X-PAHT-Report-Id"] == report_id and str(m["To"]).endswith("@paht.example")  # not the citizen's
    ]


async def test_report_is_routed_tracked_and_the_agency_emailed_once(
    platform: dict[str, Any], staff_token: Callable[..., str]
) -> None:
    """intake -> routing -> intake tracking shows the agency; notify sends exactly one email to the sink."""
    intake = f"http://127.0.0.1:{platform['http_ports']['intake']}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{intake}/api/v1/categories") as resp:
            categories = await resp.json()
        category = next(c["code"] for c in categories if c["code"] == "giao-thong")
        body = pii.sample_report(category=category)
        async with http.post(f"{intake}/api/v1/reports", json=body, headers=pii.caller_headers(0)) as resp:
            assert resp.status == 201
            created = await resp.json()
        url = f"{intake}/api/v1/reports/{created['tracking_code']}"
        headers = {"X-Tracking-Secret": created["tracking_secret"]}
        deadline = time.monotonic() + 60
        shown: dict[str, Any] = {}
        while time.monotonic() < deadline:
            async with http.get(url, headers=headers) as resp:
                shown = await resp.json()
            if shown["status"] == "assigned":
                break
            await asyncio.sleep(0.2)
    assert shown["status"] == "assigned", shown
    assert shown["agency"] == {"code": "SXD", "name": "Sở Xây dựng"}
    assert shown["due_at"]
    assert [t["status"] for t in shown["timeline"]] == ["submitted", "assigned"]

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not agency_emails(platform["mail_dir"], created["id"]):
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.5)  # a duplicate would arrive in this window
    emails = agency_emails(platform["mail_dir"], created["id"])
    assert len(emails) == 1
    assert emails[0]["To"] == "sxd@paht.example"
    assert pii.find_leaks(emails[0].as_string()) == []

    notify = f"http://127.0.0.1:{platform['http_ports']['notify']}"
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{notify}/api/v1/deliveries?report_id={created['id']}") as anonymous,
        http.get(
            f"{notify}/api/v1/deliveries?report_id={created['id']}",
            headers={"Authorization": f"Bearer {staff_token(Role.COORDINATOR)}"},
        ) as resp,
    ):
        assert anonymous.status == 401  # the delivery log is for staff only
        deliveries = await resp.json()
    agency = [(d["channel"], d["recipient"]) for d in deliveries if d["audience"] == "agency"]
    assert agency == [("email", "sxd@paht.example")]
    citizen = [d for d in deliveries if d["audience"] == "citizen"]
    assert citizen  # the reporter is told too, on their channels, their address masked in the log
    assert pii.find_leaks(json.dumps(citizen, ensure_ascii=False)) == []
