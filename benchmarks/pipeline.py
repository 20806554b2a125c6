"""End to end, open loop: reports submitted at a fixed rate (chaos's ReportLoad: a new report, key, phone and
forwarded address each, sent on schedule whatever the answers), each followed from intake accepting it to
intake's tracking read model showing it assigned (intake -> outbox -> Kafka -> routing -> outbox -> Kafka ->
intake), with the whole platform running.

Latency submitted -> assigned = reports.updated_at (set by the intake consumer's transaction that applied the
assignment) - reports.submitted_at (intake's clock when it took the request), both in PostgreSQL: no polling
error. Lost = acknowledged (201) but not assigned within the grace period after the load.

1. BENCH_RATE (default 200/s) for BENCH_SECONDS (default 60).
2. The highest sustained rate: a bisection on probes of BENCH_PROBE_SECONDS (default 10) between 0 and the
   fixed rate (or upward by half while they pass), at most 3 probes; the highest rate that passed is then
   run for BENCH_SECONDS. None confirmed: 0 (the probes are in the result file's details).
   Sustained = every report acknowledged and assigned, no 5xx or refused connection, p99 <= 1 s.
A run the platform could not keep up with leaves a backlog; it is discarded (benchmarks/leftovers.py) so the
next run starts on a quiet platform.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import uuid
from dataclasses import dataclass

import asyncpg

from benchmarks.leftovers import discard
from benchmarks.results import Section, Target, percentile, seconds_setting
from benchmarks.workers import Stack, until_none, wait_quiet
from chaos.load import ReportLoad

SUSTAINED_TARGET = Target(">=", 500.0)
P99_LIMIT_SECONDS = 1.0
P99_TARGET = Target("<=", P99_LIMIT_SECONDS * 1000)
MAX_RATE = 2000.0
MIN_RATE = 5.0
MAX_PROBES = 3
RESOLUTION = 1.2  # probing stops when the highest pass and lowest failure are this close
GRACE_SECONDS = 20.0  # after the load, for the last reports to be assigned; later than that is lost
PROBE_GRACE_SECONDS = 10.0
TAIL_SECONDS = 20.0
WARM_UP_RATE, WARM_UP_SECONDS = 5.0, 2.0


@dataclass(frozen=True)
class Run:
    rate: float
    seconds: float
    sent: int
    acknowledged: int
    failed_answers: int  # 5xx and refused connections (each retried with the same key)
    client_errors: int  # 4xx: a refusal, e.g. a rate limit
    submit_p50_ms: float
    submit_p99_ms: float
    assigned: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def lost(self) -> int:
        return self.acknowledged - self.assigned

    @property
    def sustained(self) -> bool:
        return (
            self.acknowledged == self.sent
            and self.lost == 0
            and self.failed_answers == 0
            and self.p99_ms <= P99_LIMIT_SECONDS * 1000
        )

    def line(self) -> str:
        return (
            f"{self.rate:6.0f}/s x {self.seconds:.0f} s: {self.acknowledged}/{self.sent} acknowledged, "
            f"{self.assigned} assigned; submitted->assigned p50 {self.p50_ms:.0f} ms p99 {self.p99_ms:.0f} ms "
            f"max {self.max_ms:.0f} ms; 201 latency p99 {self.submit_p99_ms:.0f} ms; "
            f"{self.failed_answers} 5xx/refused; {'sustained' if self.sustained else 'NOT sustained'}"
        )


async def assigned_lags(admin_dsn: str, ids: list[uuid.UUID], grace: float) -> list[float]:
    """Seconds from submitted to assigned of each report assigned within `grace` from now."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        await until_none(
            conn, "SELECT count(*) FROM intake.reports WHERE id = ANY($1::uuid[]) AND status = 'submitted'", ids, grace
        )
        rows = await conn.fetch(
            "SELECT extract(epoch FROM updated_at - submitted_at)::float8 AS lag FROM intake.reports "
            "WHERE id = ANY($1::uuid[]) AND status <> 'submitted'",
            ids,
        )
    finally:
        await conn.close()
    return [r["lag"] for r in rows]


async def open_loop(stack: Stack, rate: float, seconds: float, grace: float = GRACE_SECONDS) -> Run:
    load = ReportLoad(stack.url("intake"), rate)
    sending = asyncio.create_task(load.run())
    await asyncio.sleep(seconds)
    load.stop()
    # Requests still retrying on 5xx get TAIL_SECONDS more (ReportLoad alone would retry for minutes); the
    # ones never acknowledged make the run fail.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(sending, TAIL_SECONDS)
    ids = [uuid.UUID(i) for i in load.acknowledged]
    lags_ms = sorted(v * 1000 for v in await assigned_lags(stack.admin_dsn, ids, grace))
    unassigned = len(ids) - len(lags_ms)
    # a report never assigned counts as slower than any that was, so p99 cannot hide it
    worst = lags_ms + [float("inf")] * unassigned
    submit_ms = [(a.answered - a.asked) * 1000 for a in load.answers.log if a.status == 201]
    answers = load.answers.log
    return Run(
        rate=rate,
        seconds=seconds,
        sent=load.submitted,
        acknowledged=len(ids),
        failed_answers=sum(1 for a in answers if a.status != 201 and (a.status >= 500 or a.status == 0)),
        client_errors=sum(load.client_errors.values()),
        submit_p50_ms=percentile(submit_ms, 0.5),
        submit_p99_ms=percentile(submit_ms, 0.99),
        assigned=len(lags_ms),
        p50_ms=percentile(worst, 0.5),
        p99_ms=percentile(worst, 0.99),
        max_ms=max(worst, default=0.0),
    )


async def fresh_run(stack: Stack, rate: float, seconds: float, grace: float, tried: list[Run]) -> Run:
    """A run on a quiet platform. A run the platform could not keep up with leaves a backlog that would take
    minutes to drain and slow the next run: it is discarded (leftovers.discard) instead."""
    since = await db_now(stack.admin_dsn)
    run = await open_loop(stack, rate, seconds, grace)
    tried.append(run)
    print(f"pipeline: {run.line()}", flush=True)
    if run.sustained:
        await wait_quiet(limit=30)
    else:
        await discard(stack, since)
        # The restarted consumers rejoin their groups (Kafka holds a new group's first rebalance for 3 s):
        # a few reports followed to `assigned` prove the whole path consumes again before the next run.
        await open_loop(stack, WARM_UP_RATE, WARM_UP_SECONDS, grace=60)
        await wait_quiet(limit=30)
    return run


async def highest_sustained(
    stack: Stack, first: Run, probe_seconds: float, seconds: float, tried: list[Run]
) -> Run | None:
    """Bisection on short probes (upward by half while they pass, when `first` passed), at most MAX_PROBES,
    then the highest rate that passed is confirmed for `seconds` (one full run: each costs a minute)."""
    low, high = (first.rate, MAX_RATE) if first.sustained else (0.0, first.rate)
    for _ in range(MAX_PROBES):
        rate = round(min(low * 1.5, high) if first.sustained and high == MAX_RATE else (low + high) / 2)
        if rate <= low or high / max(low, 1.0) < RESOLUTION:
            break
        probe = await fresh_run(stack, rate, probe_seconds, PROBE_GRACE_SECONDS, tried)
        low, high = (rate, high) if probe.sustained else (low, rate)
    if low < MIN_RATE:
        return None
    if low == first.rate:
        return first
    confirmed = await fresh_run(stack, low, seconds, GRACE_SECONDS, tried)
    return confirmed if confirmed.sustained else None


async def db_now(admin_dsn: str) -> datetime.datetime:
    conn = await asyncpg.connect(admin_dsn)
    try:
        now: datetime.datetime = await conn.fetchval("SELECT now()")
    finally:
        await conn.close()
    return now


async def measure(stack: Stack) -> Section:
    seconds = seconds_setting()
    rate = float(os.environ.get("BENCH_RATE") or 200)
    probe_seconds = seconds_setting("BENCH_PROBE_SECONDS", 10)
    section = Section(
        "pipeline",
        f"Open loop, the whole platform running: reports submitted at a fixed rate ({rate:.0f}/s for {seconds:.0f} s), "
        "latency from intake taking each report to intake's read model showing it assigned (PostgreSQL "
        "timestamps); then the highest rate sustained for the same time with every report assigned, no 5xx "
        f"and p99 <= {P99_LIMIT_SECONDS:.0f} s (bisection on probes of {probe_seconds:.0f} s, then confirmed).",
    )
    await wait_quiet()
    print(f"pipeline: {rate:.0f} reports/s for {seconds:.0f} s, open loop", flush=True)
    tried: list[Run] = []
    fixed = await fresh_run(stack, rate, seconds, GRACE_SECONDS, tried)
    section.add("fixed_rate_p50_ms", f"submitted->assigned p50 at {rate:.0f}/s", fixed.p50_ms, "ms")
    section.add("fixed_rate_p99_ms", f"submitted->assigned p99 at {rate:.0f}/s", fixed.p99_ms, "ms", P99_TARGET)
    section.add(
        "fixed_rate_acknowledged",
        f"acknowledged (201) at {rate:.0f}/s",
        100 * fixed.acknowledged / max(fixed.sent, 1),
        "%",
    )
    section.add("fixed_rate_lost", f"lost (201, never assigned) at {rate:.0f}/s", fixed.lost, "reports")
    best = await highest_sustained(stack, fixed, probe_seconds, seconds, tried)
    section.add("sustained_per_second", f"highest sustained ({seconds:.0f} s, p99 <= 1 s, 0 lost)",
                best.rate if best else 0.0, "reports/s", SUSTAINED_TARGET)  # fmt: skip
    if best is not None:
        section.add("sustained_p99_ms", "submitted->assigned p99 at that rate", best.p99_ms, "ms")
    section.details["fixed"] = fixed.__dict__ | {"lost": fixed.lost, "sustained": fixed.sustained}
    section.details["tried"] = [run.__dict__ | {"lost": run.lost, "sustained": run.sustained} for run in tried[1:]]
    return section
