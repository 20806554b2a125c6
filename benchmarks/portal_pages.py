"""make bench: the portal's pages under load, as browsers would ask for them (server-rendered, each page
calling intake's public APIs), and the report form posted end to end (portal -> intake -> 303 receipt; 15
posts, under intake's limit per address, since every post here comes from one address).

Prints pages/s and latency per page at a fixed concurrency. Bounded: BENCH_PORTAL_REQUESTS per page
(default 300) at BENCH_CONCURRENCY (default 20), loopback only.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import aiohttp

from paht_shared.testing.pii import ADDRESS, CCCD, FULL_NAME, caller_phone

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("/", "/gui-phan-anh", "/phan-anh", "/thong-ke")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed_gets(portal: str, path: str, total: int, concurrency: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    left = iter(range(total))

    async def worker() -> None:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # one browser each
            for _ in left:
                started = time.perf_counter()
                async with http.get(portal + path) as resp:
                    await resp.read()
                    if resp.status != 200:
                        raise RuntimeError(f"{path}: {resp.status}")
                latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - began


def form_fields(page: str) -> dict[str, str]:
    """The hidden fields a rendering of the form carries (the CSRF token, its Idempotency-Key)."""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))


async def timed_reports(portal: str, total: int, concurrency: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    left = iter(range(total))

    async def worker() -> None:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # cookies on 127.0.0.1
            for n in left:
                async with http.get(portal + "/gui-phan-anh") as resp:
                    hidden = form_fields(await resp.text())
                form = hidden | {
                    "reporter.full_name": FULL_NAME,
                    "reporter.phone": caller_phone(700_000 + n),
                    "reporter.cccd": CCCD,
                    "reporter.address": ADDRESS,
                    "title": "Đèn đường hỏng trước trường học",
                    "category": "chieu-sang",
                    "content": "Đèn đường hỏng cả tuần, buổi tối học sinh đi học về rất tối và nguy hiểm.",
                    "location.ward_code": "31507",
                    "public": "",  # the "Không công khai" radio
                    "consent.use_personal_data": "on",
                }
                started = time.perf_counter()
                async with http.post(portal + "/gui-phan-anh", data=form, allow_redirects=False) as resp:
                    if resp.status != 303:
                        raise RuntimeError(f"form: {resp.status}: {(await resp.text())[:300]}")
                latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - began


def report(name: str, total: int, latencies: list[float], elapsed: float) -> None:
    ms = [v * 1000 for v in latencies]
    print(
        f"{name:14}: {total / elapsed:6.1f}/s over {elapsed:5.1f} s; latency ms p50 {percentile(ms, 0.5):.1f}  "
        f"p95 {percentile(ms, 0.95):.1f}  max {max(ms):.1f}"
    )


async def main() -> None:
    stack: dict[str, Any] = json.loads((ROOT / ".infra" / "stack.json").read_text())
    total = int(os.environ.get("BENCH_PORTAL_REQUESTS", "300"))
    concurrency = int(os.environ.get("BENCH_CONCURRENCY", "20"))
    portal = f"http://127.0.0.1:{stack['http_ports']['portal']}"
    print(f"portal: {total} requests per page, concurrency {concurrency}, {os.cpu_count()} CPU cores")
    for path in PAGES:
        latencies, elapsed = await timed_gets(portal, path, total, concurrency)
        report(path, total, latencies, elapsed)
    # Every post comes from this machine's one address, and intake accepts 20 reports a minute from one
    # address (INTAKE_SUBMISSIONS_PER_IP_PER_MINUTE): the form is timed, not pushed to a throughput.
    reports = 15
    latencies, elapsed = await timed_reports(portal, reports, min(concurrency, 5))
    report("POST form", reports, latencies, elapsed)


if __name__ == "__main__":
    asyncio.run(main())
