"""make bench: submit reports to the running platform and measure what a surge looks like.

Prints submission latency percentiles and throughput at a fixed concurrency, then how long each report
took from its 201 to `assigned` on the tracking read model (intake -> Kafka -> routing -> Kafka -> intake).
Bounded: BENCH_REPORTS requests (default 1000) at BENCH_CONCURRENCY (default 20), loopback only.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from paht_shared.testing.pii import caller_headers, sample_report

ROOT = Path(__file__).resolve().parents[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def submit_all(url: str, total: int, concurrency: int) -> tuple[list[float], dict[str, float], float]:
    latencies: list[float] = []
    accepted_at: dict[str, float] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(total):
        queue.put_nowait(n)
    categories = ["giao-thong", "moi-truong", "dien-chieu-sang", "cap-thoat-nuoc", "khac"]

    async def worker(http: aiohttp.ClientSession) -> None:
        while not queue.empty():
            n = queue.get_nowait()
            body = sample_report(category=categories[n % len(categories)], caller=n)
            started = time.perf_counter()
            async with http.post(url, json=body, headers=caller_headers(n)) as resp:
                payload = await resp.json()
                if resp.status != 201:
                    raise RuntimeError(f"unexpected {resp.status}: {payload}")
            done = time.perf_counter()
            latencies.append(done - started)
            accepted_at[payload["id"]] = done

    began = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
    return latencies, accepted_at, time.perf_counter() - began


async def wait_assigned(admin_dsn: str, accepted_at: dict[str, float], limit_seconds: float) -> dict[str, float]:
    """Seconds from each 201 to the moment the poller first saw it `assigned` (100 ms polling resolution)."""
    ids = [uuid.UUID(i) for i in accepted_at]
    seen: dict[str, float] = {}
    conn = await asyncpg.connect(admin_dsn)
    deadline = time.perf_counter() + limit_seconds
    try:
        while len(seen) < len(ids) and time.perf_counter() < deadline:
            rows = await conn.fetch(
                "SELECT id FROM intake.reports WHERE id = ANY($1::uuid[]) AND status = 'assigned'", ids
            )
            now = time.perf_counter()
            for row in rows:
                seen.setdefault(str(row["id"]), now - accepted_at[str(row["id"])])
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    return seen


async def quiet_latency(url: str, admin_dsn: str, count: int) -> list[float]:
    """One report at a time on an idle platform: the latency a citizen sees on an ordinary day."""
    results: list[float] = []
    for _ in range(count):
        _, accepted_at, _ = await submit_all(url, 1, 1)
        results.extend((await wait_assigned(admin_dsn, accepted_at, limit_seconds=30)).values())
    return results


async def main() -> None:
    stack: dict[str, Any] = json.loads((ROOT / ".infra" / "stack.json").read_text())
    total = int(os.environ.get("BENCH_REPORTS", "1000"))
    concurrency = int(os.environ.get("BENCH_CONCURRENCY", "20"))
    url = f"http://127.0.0.1:{stack['http_ports']['intake']}/api/v1/reports"
    print(f"benchmark: {total} reports, concurrency {concurrency}, {os.cpu_count()} CPU cores, all on this machine")
    quiet = [v * 1000 for v in await quiet_latency(url, stack["admin_dsn"], 10)]
    print(
        f"quiet   : 201 -> assigned ms, one report at a time (10): p50 {percentile(quiet, 0.5):.0f}  "
        f"max {max(quiet):.0f}"
    )
    latencies, accepted_at, elapsed = await submit_all(url, total, concurrency)
    ms = [v * 1000 for v in latencies]
    print(f"submit  : {total / elapsed:7.1f} reports/s over {elapsed:.1f} s")
    print(
        f"submit  : latency ms p50 {percentile(ms, 0.5):.1f}  p95 {percentile(ms, 0.95):.1f}  "
        f"p99 {percentile(ms, 0.99):.1f}  max {max(ms):.1f}  mean {statistics.mean(ms):.1f}"
    )
    assigned = await wait_assigned(stack["admin_dsn"], accepted_at, limit_seconds=300)
    lag = [v * 1000 for v in assigned.values()]
    print(f"assigned: {len(assigned)}/{total} reports reached 'assigned' on the tracking page")
    if lag:
        print(
            f"assigned: 201 -> assigned ms p50 {percentile(lag, 0.5):.0f}  p95 {percentile(lag, 0.95):.0f}  "
            f"p99 {percentile(lag, 0.99):.0f}  max {max(lag):.0f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
