"""Kill -9 service processes while reports flow: every accepted report is routed once and mailed once."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import aiohttp
import asyncpg

from paht_shared.testing import pii
from paht_shared.testing.kafka import wait_until
from paht_shared.testing.mail import recent_mail

from .conftest import devstack

REPORTS = 60
VICTIMS = ("intake-relay", "routing-consume", "routing-relay", "intake-consume")


async def submit(http: aiohttp.ClientSession, intake: str, n: int) -> str:
    body = pii.sample_report(category=("giao-thong", "moi-truong", "y-te")[n % 3], caller=1000 + n)
    async with http.post(f"{intake}/api/v1/reports", json=body, headers=pii.caller_headers(1000 + n)) as resp:
        assert resp.status == 201
        return str((await resp.json())["id"])


def emails_by_report(mail_dir: str, ids: set[str]) -> dict[str, int]:
    counts = dict.fromkeys(ids, 0)
    for message in recent_mail(mail_dir):
        report_id = message["X-PAHT-Report-Id"]
        if report_id in counts and str(message["To"]).endswith("@paht.example"):  # the agency's email
            counts[report_id] += 1
    return counts


async def test_reports_survive_kill_9_of_relays_and_consumers(platform: dict[str, Any]) -> None:
    """SIGKILL the relays and consumers mid-stream, restart them: all assigned, one assignment, one email."""
    intake = f"http://127.0.0.1:{platform['http_ports']['intake']}"
    async with aiohttp.ClientSession() as http:
        first = [await submit(http, intake, n) for n in range(REPORTS // 2)]
        for victim in VICTIMS:
            devstack("kill", victim)
        # Accepted while the relay and the consumers are dead: they must wait in the outbox, not vanish.
        second = [await submit(http, intake, n) for n in range(REPORTS // 2, REPORTS)]
        await asyncio.sleep(1)
        devstack("services-up")  # starts exactly the processes that are not running
    ids = set(first + second)

    conn = await asyncpg.connect(platform["admin_dsn"])
    try:
        uuids = [uuid.UUID(i) for i in ids]

        async def all_assigned() -> bool:
            count = await conn.fetchval(
                "SELECT count(*) FROM intake.reports WHERE id = ANY($1::uuid[]) AND status = 'assigned'", uuids
            )
            return bool(count == REPORTS)

        await wait_until(all_assigned, 120)
        assignments = await conn.fetchval("SELECT count(*) FROM routing.assignments WHERE report_id = ANY($1)", uuids)
        timeline = await conn.fetch(
            "SELECT report_id, count(*) AS n FROM intake.report_timeline WHERE report_id = ANY($1) GROUP BY report_id",
            uuids,
        )
    finally:
        await conn.close()
    assert assignments == REPORTS
    assert {r["n"] for r in timeline} == {2}, "each report: submitted once, assigned once"

    deadline = time.monotonic() + 60
    counts = emails_by_report(platform["mail_dir"], ids)
    while time.monotonic() < deadline and min(counts.values()) == 0:
        await asyncio.sleep(0.5)
        counts = emails_by_report(platform["mail_dir"], ids)
    await asyncio.sleep(1.5)
    counts = emails_by_report(platform["mail_dir"], ids)
    assert set(counts.values()) == {1}, "exactly one agency email per report"
