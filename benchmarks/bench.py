"""`make bench`: the platform measured side by side in one run on this machine, against issue 12's targets.

    intake at 64 connections beside the bare insert and a bare echo   (benchmarks/submission.py)
    relay drain of a 100,000-event backlog, routing's consumer         (benchmarks/backlog.py)
    submitted -> assigned, open loop, and the highest sustained rate   (benchmarks/pipeline.py)
    media uploads and the worker sanitising 12 MP photos               (benchmarks/photos.py)
    resident memory of every process at the end                        (benchmarks/memory.py)

Each section writes bench/results/<section>.json; the summary table comes last. Targets are reported, never
asserted. The stack must be running (`make bench` starts it); the relays and consumers are stopped and started
again along the way. BENCH_SECONDS (default 60) shortens the timed runs; BENCH_SECTIONS=submission,media runs
only those.
"""

from __future__ import annotations

import asyncio
import os
import time

import asyncpg

from benchmarks import backlog, memory, photos, pipeline, submission
from benchmarks.results import ROOT, Section, machine, summary
from benchmarks.workers import BACKGROUND, Stack, start, stop, wait_quiet
from paht_devstack.services import SERVICES  # importable: benchmarks.workers put deploy/ on the path

SECTIONS = ("submission", "backlog", "pipeline", "media", "memory")


async def pg_settings(admin_dsn: str) -> dict[str, str]:
    conn = await asyncpg.connect(admin_dsn)
    try:
        rows = await conn.fetch(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('server_version', 'fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers')"
        )
    finally:
        await conn.close()
    return {r["name"]: r["setting"] for r in rows}


async def pending_events(admin_dsn: str) -> int:
    """Unpublished outbox rows of every service: the platform still has work from before the bench. (Only the
    services' schemas: a test's scratch schema with an outbox of its own is nobody's work.)"""
    conn = await asyncpg.connect(admin_dsn)
    try:
        schemas = [r["table_schema"] for r in await conn.fetch(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'outbox' "
            "AND table_schema = ANY($1::text[])", [s.name for s in SERVICES])]  # fmt: skip
        counts = [await conn.fetchval(f"SELECT count(*) FROM {s}.outbox WHERE published_at IS NULL "
                                      "AND parked_at IS NULL") for s in schemas]  # fmt: skip
    finally:
        await conn.close()
    return sum(counts)


async def main() -> None:
    chosen = [s.strip() for s in (os.environ.get("BENCH_SECTIONS") or ",".join(SECTIONS)).split(",")]
    stack = Stack.load()
    about = machine(await pg_settings(stack.admin_dsn))
    print(f"bench: {about['cores']} cores ({about['cpu']}), {about['ram_mb']:,} MB RAM, PostgreSQL fsync "
          f"{about['postgresql'].get('fsync')}; sections {', '.join(chosen)}", flush=True)  # fmt: skip
    began = time.monotonic()
    await wait_quiet()
    if await pending_events(stack.admin_dsn):
        # the backlog bench skips report.submitted for its readers: events from before it would be skipped too
        raise SystemExit("bench: the platform still has unpublished events; let it drain (or restart) first")
    sections: list[Section] = []

    # The closed-loop runs and the relay each get the machine to themselves: no relay or consumer running.
    stop(stack, *BACKGROUND)
    try:
        if "submission" in chosen:
            sections.append(await submission.measure(stack))
        if "backlog" in chosen:
            sections.append(await backlog.measure(stack))
    finally:
        await start(stack, *BACKGROUND)
    if "pipeline" in chosen:
        sections.append(await pipeline.measure(stack))
    if "media" in chosen:
        await wait_quiet()
        sections.append(await photos.measure(stack))
    if "memory" in chosen:
        sections.append(memory.measure(stack))

    for section in sections:
        print(f"wrote {section.write(about).relative_to(ROOT)}")
    minutes, secs = divmod(int(time.monotonic() - began), 60)
    print(f"\nmake bench: {about['cores']} cores, {about['ram_mb']:,} MB RAM, {minutes} min {secs} s\n")
    print(summary(sections))


if __name__ == "__main__":
    asyncio.run(main())
