"""make bench-restart: PostgreSQL stopped in immediate mode under load, then started again.

A client submits BENCH_REPORTS reports (default 1,500) at BENCH_RATE per second (default 150), each with its
own Idempotency-Key, retrying the same key on a 503 or a refused connection as a real client would. After
BENCH_STOP_AFTER seconds (default 3) PostgreSQL is stopped in immediate mode (a crash, as far as clients and
recovery know) for BENCH_DOWN_SECONDS (default 5) and started again. Then it counts, for every report that
got a 201: stored, routed once, shown `assigned` once on the tracking timeline, emailed to the agency once;
and how intake answered during the outage. Loopback only, bounded in count and time.
"""

from __future__ import annotations

import asyncio
import collections
import json
import mailbox
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from paht_shared.testing.pii import caller_headers, sample_report

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy"))

from paht_devstack import postgres  # noqa: E402 - deploy/ is not an installed package
from paht_devstack.config import Config  # noqa: E402 - same

CATEGORIES = ["giao-thong", "moi-truong", "dien-chieu-sang", "cap-thoat-nuoc", "khac"]
GIVE_UP_SECONDS = 90.0


async def submit_until_accepted(
    http: aiohttp.ClientSession, url: str, n: int, answers: collections.Counter[str], accepted: list[str]
) -> None:
    """One citizen: the same body and key until a 201 (or a client error, which would be a bug here)."""
    headers = caller_headers(n)  # the same key (and address) on every retry
    body = sample_report(category=CATEGORIES[n % len(CATEGORIES)], caller=n)
    deadline = time.monotonic() + GIVE_UP_SECONDS
    while time.monotonic() < deadline:
        try:
            async with http.post(url, json=body, headers=headers) as resp:
                answers[str(resp.status)] += 1
                if resp.status == 201:
                    accepted.append((await resp.json())["id"])
                    return
                if resp.status not in (500, 502, 503):
                    return
                retry_after = float(resp.headers.get("Retry-After", "1"))
        except aiohttp.ClientError:
            answers["connection error"] += 1
            retry_after = 1.0
        await asyncio.sleep(min(retry_after, 1.0))
    answers["gave up"] += 1


async def restart_postgres(cfg: Config, after: float, down: float) -> tuple[float, float]:
    await asyncio.sleep(after)
    stopped = time.monotonic()
    await asyncio.to_thread(postgres.stop, cfg, "immediate")
    await asyncio.sleep(down)
    await asyncio.to_thread(postgres.start, cfg)
    return stopped, time.monotonic()


async def count(conn: asyncpg.Connection, sql: str, ids: list[uuid.UUID]) -> collections.Counter[int]:
    """How many reports have each number of rows (e.g. {1: 1500} = one each)."""
    per_report = {r["id"]: r["n"] for r in await conn.fetch(sql, ids)}
    return collections.Counter(per_report.get(i, 0) for i in ids)


async def main() -> None:
    stack: dict[str, Any] = json.loads((ROOT / ".infra" / "stack.json").read_text())
    cfg = Config.from_env()
    total = int(os.environ.get("BENCH_REPORTS", "1500"))
    rate = float(os.environ.get("BENCH_RATE", "150"))
    stop_after = float(os.environ.get("BENCH_STOP_AFTER", "3"))
    down = float(os.environ.get("BENCH_DOWN_SECONDS", "5"))
    url = f"http://127.0.0.1:{stack['http_ports']['intake']}/api/v1/reports"
    print(
        f"restart bench: {total} reports at {rate:.0f}/s; PostgreSQL stopped (immediate) at {stop_after:.0f} s "
        f"for {down:.0f} s"
    )
    answers: collections.Counter[str] = collections.Counter()
    accepted: list[str] = []
    began = time.monotonic()
    restart = asyncio.create_task(restart_postgres(cfg, stop_after, down))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=400)) as http:
        clients = []
        for n in range(total):
            await asyncio.sleep(max(0.0, began + n / rate - time.monotonic()))
            clients.append(asyncio.create_task(submit_until_accepted(http, url, n, answers, accepted)))
        await asyncio.gather(*clients)
    stopped, started = await restart
    print(
        f"outage  : PostgreSQL down {started - stopped:.1f} s; all clients done after {time.monotonic() - began:.1f} s"
    )
    print(f"answers : {dict(sorted(answers.items()))}")
    ids = [uuid.UUID(i) for i in accepted]
    conn = await asyncpg.connect(stack["admin_dsn"])
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            done = await conn.fetchval(
                "SELECT count(DISTINCT report_id) FROM notify.deliveries "
                "WHERE report_id = ANY($1::uuid[]) AND status <> 'pending' AND status <> 'sending'",
                ids,
            )
            if done == len(ids):
                break
            await asyncio.sleep(1)
        await asyncio.sleep(3)  # a duplicate would land in this window
        print(f"drained : {time.monotonic() - began:.1f} s after the first submission")
        print(f"accepted: {len(ids)} reports got 201 ({len(set(ids))} distinct)")
        checks = {
            "stored in intake": "SELECT id, count(*) AS n FROM intake.reports WHERE id = ANY($1::uuid[]) GROUP BY id",
            "routed (assignments)": "SELECT report_id AS id, count(*) AS n FROM routing.assignments "
            "WHERE report_id = ANY($1::uuid[]) GROUP BY report_id",
            "'assigned' on the timeline": "SELECT report_id AS id, count(*) AS n FROM intake.report_timeline "
            "WHERE report_id = ANY($1::uuid[]) AND status = 'assigned' GROUP BY report_id",
            "agency emails (deliveries)": "SELECT report_id AS id, count(*) AS n FROM notify.deliveries "
            "WHERE report_id = ANY($1::uuid[]) GROUP BY report_id",
        }
        statuses = await conn.fetch(
            "SELECT status, count(*) AS n FROM notify.deliveries WHERE report_id = ANY($1::uuid[]) GROUP BY status",
            ids,
        )
        print(f"{'delivery statuses':<27}: {dict(sorted((r['status'], r['n']) for r in statuses))}")
        for what, sql in checks.items():
            per_report = await count(conn, sql, ids)
            print(f"{what:<27}: {dict(sorted(per_report.items()))}  (rows per report -> reports)")
    finally:
        await conn.close()
    emails = emails_per_report(stack["mail_dir"], accepted)
    print(f"{'emails in the mailbox':<27}: {dict(sorted(emails.items()))}  (messages per report -> reports)")


def emails_per_report(mail_dir: str, report_ids: list[str]) -> collections.Counter[int]:
    """What really arrived at the SMTP server, by the report id each message names."""
    wanted = set(report_ids)
    per_report: collections.Counter[str] = collections.Counter()
    for message in mailbox.Maildir(mail_dir, create=False):
        if (report_id := message["X-PAHT-Report-Id"]) in wanted:
            per_report[report_id] += 1
    return collections.Counter(per_report.get(i, 0) for i in wanted)


if __name__ == "__main__":
    asyncio.run(main())
