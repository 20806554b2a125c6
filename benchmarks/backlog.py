"""Intake's relay draining a 100,000-event backlog into the real Kafka, then routing's consumer working through it.

The backlog: the report.submitted rows intake wrote during the submission bench (its relay was stopped),
topped up to BENCH_BACKLOG_EVENTS (default 100,000) with copies of intake's newest report.submitted row made in
SQL: the same payload, headers, topic and bucket rule, with a new event id, report id and tracking code each.
Submitting that many through the API would take minutes; the relay cannot tell the copies from the rest.

Relay: only intake-relay runs. events/s = rows published after the first batch / (last batch's published_at -
first batch's published_at), both stamped by PostgreSQL, so the process's start-up is not counted.

Routing: then only routing-consume runs (its relay stays stopped), consuming report.submitted for
BENCH_ROUTING_SECONDS (default 30) or until it has consumed the whole backlog. messages/s = routing's inbox rows
for routing.assign (one per event: the assignment, its history and its outbox events in one transaction) over
the span of their processed_at. Each copy is a valid report.submitted routing accepts and assigns.

Afterwards the backlog is not left to the rest of the platform (100,000 agency emails would take longer than
the whole bench): the consumer groups that read report.submitted are moved to its end, and routing's rows and
unpublished events for these reports are deleted. The submission bench's reports stay `submitted` in intake.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid

import asyncpg

from benchmarks.leftovers import skip_to_end
from benchmarks.results import Section, Target
from benchmarks.workers import Stack, start, stop
from paht_shared.contracts import topics
from paht_shared.outbox import BUCKETS

RELAY_TARGET = Target(">=", 5000.0)
# Consumer groups that read report.submitted (python -m <service> consume|worker): they skip the backlog.
READERS = ["routing.assign", "notify.received", "media.claims"]
ROUTING_TABLES = ("assignment_history", "contributions", "returns", "assignments")  # children first

_COPIES = """
WITH template AS (
    SELECT convert_from(payload, 'UTF8') AS body, headers::text AS headers FROM outbox WHERE id = $1
), copies AS (
    SELECT gen_random_uuid() AS event_id, gen_random_uuid() AS report_id FROM generate_series(1, $2)
)
INSERT INTO outbox (event_id, topic, key, payload, headers, bucket)
SELECT c.event_id, $3, c.report_id::text,
       convert_to(replace(replace(replace(t.body, $4, c.event_id::text), $5, c.report_id::text), $6,
                          'PA-' || translate(upper(left(md5(c.report_id::text), 8)), '01', 'XY')), 'UTF8'),
       replace(t.headers, $4, c.event_id::text)::jsonb,
       abs(hashtext(c.report_id::text)) % $7
FROM template t, copies c
"""


async def make_backlog(conn: asyncpg.Connection, events: int) -> tuple[int, int]:
    """Top intake's pending report.submitted rows up to `events`; returns (rows there already, copies)."""
    pending: int = await conn.fetchval(
        "SELECT count(*) FROM outbox WHERE published_at IS NULL AND topic = $1", topics.REPORT_SUBMITTED
    )
    template = await conn.fetchrow(
        "SELECT id, event_id, key, payload FROM outbox WHERE topic = $1 ORDER BY id DESC LIMIT 1",
        topics.REPORT_SUBMITTED,
    )
    if template is None:
        raise SystemExit("backlog: intake's outbox has no report.submitted row to copy")
    code = json.loads(bytes(template["payload"]))["data"]["tracking_code"]
    copies = max(0, events - pending)
    await conn.execute(
        _COPIES, template["id"], copies, topics.REPORT_SUBMITTED, str(template["event_id"]), template["key"], code,
        BUCKETS,
    )  # fmt: skip
    return pending, copies


async def wait_drained(conn: asyncpg.Connection, first_id: int, limit: float) -> int:
    """Seconds-bounded wait until no backlog row is pending; returns the rows still pending (0: drained)."""
    deadline = time.monotonic() + limit
    while True:
        left: int = await conn.fetchval("SELECT count(*) FROM outbox WHERE id >= $1 AND published_at IS NULL", first_id)
        if left == 0 or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.5)


async def consume_for(conn: asyncpg.Connection, since: object, total: int, seconds: float) -> None:
    """Poll routing's inbox until it recorded `total` backlog events or `seconds` passed since the first."""
    first_seen: float | None = None
    deadline = time.monotonic() + seconds + 60  # start-up and joining the group come first
    while time.monotonic() < deadline:
        done: int = await conn.fetchval(
            "SELECT count(*) FROM routing.inbox WHERE handler = 'routing.assign' AND processed_at >= $1", since
        )
        if done and first_seen is None:
            first_seen = time.monotonic()
            deadline = first_seen + seconds
        if done >= total:
            return
        await asyncio.sleep(1)


async def forget_in_routing(conn: asyncpg.Connection, report_ids: list[uuid.UUID], event_ids: list[uuid.UUID]) -> None:
    """Routing's rows and not yet published events for the backlog's reports, as if it had never seen them."""
    keys = [str(r) for r in report_ids]
    async with conn.transaction():
        await conn.execute("DELETE FROM routing.outbox WHERE key = ANY($1::text[]) AND published_at IS NULL", keys)
        for table in ROUTING_TABLES:
            await conn.execute(f"DELETE FROM routing.{table} WHERE report_id = ANY($1::uuid[])", report_ids)
        await conn.execute(
            "DELETE FROM routing.inbox WHERE handler = 'routing.assign' AND event_id = ANY($1::uuid[])", event_ids
        )


async def measure(stack: Stack) -> Section:
    """Needs intake-relay and the READERS stopped (bench.py stops every background process first)."""
    events = int(os.environ.get("BENCH_BACKLOG_EVENTS") or 100_000)
    routing_seconds = float(os.environ.get("BENCH_ROUTING_SECONDS") or 30)
    section = Section(
        "backlog",
        f"intake-relay alone publishing a {events:,}-event report.submitted backlog from intake's outbox to Kafka "
        f"(events/s between the first and last batch's commit), then routing-consume alone consuming it for up to "
        f"{routing_seconds:.0f} s (messages/s from routing's inbox timestamps).",
    )
    conn = await asyncpg.connect(stack.admin_dsn, server_settings={"search_path": "intake"})
    try:
        print(f"backlog: making a {events:,}-event backlog in intake's outbox", flush=True)
        began = time.monotonic()
        real, copies = await make_backlog(conn, events)
        rows = await conn.fetch(
            "SELECT id, event_id, key FROM outbox WHERE published_at IS NULL AND topic = $1 ORDER BY id",
            topics.REPORT_SUBMITTED,
        )
        first_id = rows[0]["id"]
        section.details["backlog"] = {"events": len(rows), "from_submission_bench": real, "copies": copies,
                                      "made_in_seconds": round(time.monotonic() - began, 1)}  # fmt: skip

        print("backlog: intake-relay draining it", flush=True)
        await start(stack, "intake-relay")
        left = await wait_drained(conn, first_id, limit=600)
        drain = await conn.fetchrow(
            "WITH backlog AS (SELECT published_at FROM outbox WHERE id >= $1 AND published_at IS NOT NULL) "
            "SELECT count(*) AS n, min(published_at) AS first, max(published_at) AS last, "
            "count(*) FILTER (WHERE published_at = (SELECT min(published_at) FROM backlog)) AS first_batch "
            "FROM backlog",
            first_id,
        )
        span = (drain["last"] - drain["first"]).total_seconds()
        relay_rate = (drain["n"] - drain["first_batch"]) / span if span > 0 else 0.0
        section.add("relay_events_per_second", "relay drain", relay_rate, "events/s", RELAY_TARGET)
        section.add("relay_drain_seconds", "relay drain time", span, "s")
        section.details["relay"] = {"published": drain["n"], "left_pending": left, "first_batch": drain["first_batch"]}

        print(f"backlog: routing-consume working through it for up to {routing_seconds:.0f} s", flush=True)
        since = await conn.fetchval("SELECT now()")
        await start(stack, "routing-consume")
        await consume_for(conn, since, len(rows), routing_seconds)
        stop(stack, "routing-consume")
        consumed = await conn.fetchrow(
            "SELECT count(*) AS n, min(processed_at) AS first, max(processed_at) AS last FROM routing.inbox "
            "WHERE handler = 'routing.assign' AND processed_at >= $1",
            since,
        )
        span = (consumed["last"] - consumed["first"]).total_seconds() if consumed["n"] > 1 else 0.0
        section.add("routing_messages_per_second", "routing consumer", (consumed["n"] - 1) / span if span else 0.0,
                    "msgs/s")  # fmt: skip
        section.details["routing"] = {"consumed": consumed["n"], "seconds": round(span, 1)}

        print("backlog: the rest of the platform skips it", flush=True)
        section.details["skipped_by_group"] = await skip_to_end(stack.bootstrap, topics.REPORT_SUBMITTED, READERS)
        await forget_in_routing(conn, [uuid.UUID(r["key"]) for r in rows], [r["event_id"] for r in rows])
    finally:
        await conn.close()
    return section
