"""make chaos: a steady load on the running platform while faults are injected, then the guarantees counted.

`python -m chaos.run` runs the large size (its broker faults need PAHT_KAFKA_BROKERS=3); CHAOS_SIZE=small the one
`make test` runs. CHAOS_RATE (reports per second) and CHAOS_SECONDS (the least time the load runs; it runs until
the last fault is over) override the size's values. Exit status 1 when a check failed; the platform is left running
and healthy.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import asyncpg

from chaos.faults import Fault, FaultNotProved, Injector
from chaos.load import MediaLoad, ReportLoad
from chaos.report import table
from chaos.stack import Stack
from chaos.verify import Counts, TopicMarks, count, wait_drained

DRAIN_LIMIT_SECONDS = 30.0  # the backlog must drain within this after the last fault
FAST_503_SECONDS = 6.0  # an answer during an outage must come this fast (connect 3 s, pool wait 5 s bounded)
GAP_SECONDS = 1.0  # between faults

Step = Callable[[Injector], Awaitable[Fault]]


@dataclass(frozen=True)
class Size:
    rate: float  # reports per second
    seconds: float  # the least time the load runs
    media_rate: float
    schedule: tuple[tuple[str, Step], ...]


def _kill_intake(i: Injector) -> Awaitable[Fault]:
    return i.kill_intake()


def _relay(i: Injector) -> Awaitable[Fault]:
    return i.kill_relay_mid_batch()


def _before(i: Injector) -> Awaitable[Fault]:
    return i.kill_consumer_before_commit()


def _after(i: Injector) -> Awaitable[Fault]:
    return i.kill_consumer_after_commit()


def _poison(i: Injector) -> Awaitable[Fault]:
    return i.poison(10)


def _same_key(i: Injector) -> Awaitable[Fault]:
    return i.same_key_burst()


def _kafka(how: str, down: float) -> Step:
    return lambda i: i.kafka_outage(how, down)


def _postgres(down: float) -> Step:
    return lambda i: i.postgres_outage(down)


def _s3(down: float) -> Step:
    return lambda i: i.s3_outage(down)


def _broker(down: float) -> Step:
    return lambda i: i.broker_loss(down)


def _everything(i: Injector) -> Awaitable[Fault]:
    return i.stop_everything()


def _round(kafka_how: str, kafka_down: float, pg_down: float, s3_down: float) -> tuple[tuple[str, Step], ...]:
    return (
        ("kill intake", _kill_intake),
        ("relay mid-batch", _relay),
        ("consumer before commit", _before),
        ("consumer after commit", _after),
        ("postgres", _postgres(pg_down)),
        ("s3", _s3(s3_down)),
        ("kafka", _kafka(kafka_how, kafka_down)),
        ("poison", _poison),
        ("same key", _same_key),
    )


SIZES = {
    # every fault twice; Kafka is stopped once with SIGTERM and once with SIGKILL; on the three-broker cluster
    # (`make chaos`) one broker is killed, then another after the first is back in sync
    "large": Size(
        rate=2,
        seconds=120,
        media_rate=1,
        schedule=(
            *_round("SIGTERM", 20, 10, 5),
            ("broker", _broker(15)),
            ("another broker", _broker(15)),
            ("everything", _everything),
            *_round("SIGKILL", 20, 10, 5),
            ("everything", _everything),
            ("same key", _same_key),
        ),
    ),
    # the same faults with shorter outages; everything is stopped and started once
    "small": Size(
        rate=2,
        seconds=45,
        media_rate=1,
        schedule=(
            *_round("SIGTERM", 8, 5, 3),
            ("everything", _everything),
            *_round("SIGKILL", 8, 5, 3),
        ),
    ),
}


@dataclass
class Outcome:
    report: str
    failures: list[str] = field(default_factory=list)


async def run(size: Size) -> Outcome:
    stack = Stack.load()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        await stack.wait_ready(http, 120)
        marks = TopicMarks(stack.bootstrap)
        await marks.mark()
        since_wall = time.time()
        reports = ReportLoad(stack.url("intake"), size.rate)
        media = MediaLoad(stack.url("media"), size.media_rate)
        injector = Injector(stack, http, reports, media)
        print(
            f"chaos: {size.rate:.0f} reports/s and {size.media_rate:.0f} uploads/s for at least {size.seconds:.0f} s; "
            f"{len(size.schedule)} faults",
            flush=True,
        )
        began = time.monotonic()
        loads = [asyncio.create_task(reports.run()), asyncio.create_task(media.run())]
        failures: list[str] = []
        try:
            await asyncio.sleep(3)
            for label, step in size.schedule:
                failures += await _inject(label, step, injector)
                await asyncio.sleep(GAP_SECONDS)
            await asyncio.sleep(max(0.0, began + size.seconds - time.monotonic()))
        finally:
            reports.stop()
            media.stop()
            await asyncio.gather(*loads)
            await _heal(stack, http)
        last_restored = max((f.restored for f in injector.faults), default=time.monotonic())
        report_ids = [uuid.UUID(i) for i in reports.acknowledged]
        media_ids = [uuid.UUID(i) for i in media.acknowledged]
        waiting_from = time.monotonic()
        waited = await wait_drained(stack.admin_dsn, report_ids, media_ids, 120)
        drained_in = None if waited is None else max(0.0, waiting_from + waited - last_restored)
        await asyncio.sleep(2)  # a late duplicate would land in this window
        records = await marks.since()
        conn = await asyncpg.connect(stack.admin_dsn)
        try:
            counts = await count(
                conn, records, report_ids, media_ids, injector.poison_values, stack.mail_dir, since_wall
            )
        finally:
            await conn.close()
        await _heal(stack, http)

    answers = dict(sorted(reports.answers.by_status().items()))
    media_answers = dict(sorted(media.answers.by_status().items()))
    failures += _verdict(counts, injector, reports, media, drained_in)
    bursts = sum(1 for label, _ in size.schedule if label == "same key")
    text = table(counts, injector.faults, reports.submitted + bursts, answers, media_answers, drained_in, failures)
    return Outcome(text, failures)


def _verdict(
    counts: Counts, injector: Injector, reports: ReportLoad, media: MediaLoad, drained_in: float | None
) -> list[str]:
    """Every way the run can fail, each as one line; empty when every guarantee held."""
    return [
        *_data_failures(counts, drained_in),
        *_answer_failures(injector, reports, media),
        *_fault_failures(injector),
    ]


def _data_failures(counts: Counts, drained_in: float | None) -> list[str]:
    failures: list[str] = []
    if counts.lost:
        failures.append(f"{len(counts.lost)} acknowledged reports lost (first: {counts.lost[:3]})")
    if counts.stored != counts.acknowledged or counts.routed != counts.acknowledged:
        failures.append(f"acknowledged {counts.acknowledged}, stored {counts.stored}, routed once {counts.routed}")
    if counts.duplicated:
        failures.append(f"duplicated effects: {counts.duplicated_effects}")
    if counts.dlq_unexpected or counts.poison_missing:
        failures.append(f"DLQ: {counts.dlq_unexpected} records not poison, {counts.poison_missing} poison missing")
    if drained_in is None or drained_in > DRAIN_LIMIT_SECONDS:
        failures.append(f"backlog drained {drained_in} s after the last fault (limit {DRAIN_LIMIT_SECONDS:.0f} s)")
    if counts.media_stored != counts.media_acknowledged or counts.media_statuses.get("processing"):
        failures.append(f"uploads: {counts.media_acknowledged} acknowledged, stored {counts.media_statuses}")
    return failures


def _answer_failures(injector: Injector, reports: ReportLoad, media: MediaLoad) -> list[str]:
    failures: list[str] = []
    loads = ((reports.answers, "submissions"), (media.answers, "uploads"), (injector.same_key_answers, "same-key"))
    for answers, what in loads:
        if answers.count(500):
            failures.append(f"{answers.count(500)} × 500 to {what}")
        if answers.slowest(503) > FAST_503_SECONDS:
            failures.append(f"a 503 to {what} took {answers.slowest(503):.1f} s")
    if reports.gave_up or media.gave_up or reports.client_errors or media.client_errors:
        failures.append(
            f"clients gave up: {reports.gave_up} reports, {media.gave_up} uploads; "
            f"4xx: {dict(reports.client_errors)} {dict(media.client_errors)}"
        )
    for answered, distinct in injector.same_key_bursts:
        if distinct != 1 or answered != injector.burst_size:
            failures.append(f"a same-key burst: {answered} × 201 of {injector.burst_size}, naming {distinct} reports")
    return failures


def _fault_failures(injector: Injector) -> list[str]:
    failures: list[str] = []
    for f in injector.faults:
        if f.recovered_in is None:
            failures.append(f"{f.name}: not recovered within the limit")
        if f.same_processes is False:
            failures.append(f"{f.name}: a service process died or was restarted")
    return failures


async def _inject(label: str, step: Step, injector: Injector) -> list[str]:
    """Run one fault; a fault not proved, or a step that broke, is a failure of the run, not its end."""
    try:
        await step(injector)
    except FaultNotProved as exc:
        failure = f"{label}: not proved: {exc}"
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - recorded, then the platform healed (devstack exits)
        failure = f"{label}: {type(exc).__name__}: {exc}"
    else:
        return []
    await _heal(injector.stack, injector.http, servers=True)
    print(f"  FAILED {failure}", flush=True)
    return [failure]


async def _heal(stack: Stack, http: aiohttp.ClientSession, servers: bool = False) -> None:
    """Leave the platform running: start whatever is not (servers, then service processes). After a failed
    step the servers are started whatever the services say: they stay ready with one broker of three gone."""
    if not servers and not await stack.unready(http):
        return
    with contextlib.suppress(Exception, SystemExit):
        await asyncio.to_thread(stack.start_servers)
    await stack.services_up()
    await stack.wait_ready(http, 120)


def main() -> None:
    size = SIZES[os.environ.get("CHAOS_SIZE", "large")]
    size = Size(
        rate=float(os.environ.get("CHAOS_RATE") or size.rate),
        seconds=float(os.environ.get("CHAOS_SECONDS") or size.seconds),
        media_rate=size.media_rate,
        schedule=size.schedule,
    )
    outcome = asyncio.run(run(size))
    print(outcome.report, flush=True)
    sys.exit(1 if outcome.failures else 0)


if __name__ == "__main__":
    main()
