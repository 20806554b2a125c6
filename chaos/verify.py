"""What the platform holds after the run, counted from the databases, the topics and the mailbox.

Only what this run made is counted: its reports and uploads by id, and on the broker the records past the end
offsets seen when the run began (`TopicMarks`), so neither earlier tests' records nor a long topic history
slows it down or muddles it.
"""

from __future__ import annotations

import asyncio
import collections
import mailbox
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from paht_shared.contracts import topics
from paht_shared.envelope import Envelope

WATCHED = (topics.REPORT_SUBMITTED, topics.REPORT_STATUS_CHANGED, topics.REPORT_ROUTED, topics.NOTIFICATION_SENT)
SCHEMAS_WITH_OUTBOX = ("intake", "routing", "notify", "media")
UNFINISHED_DELIVERIES = ("pending", "sending")


def _platform_dead_letters(topic: str) -> bool:
    """A dead-letter topic of the platform's own topics (tests make and delete throwaway ones of their own)."""
    return topic.endswith(topics.DLQ_SUFFIX) and topic.startswith(("report.", "media.", "notification."))


class TopicMarks:
    """End offsets of the watched topics and of every dead-letter topic when the run began."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self.start: dict[TopicPartition, int] = {}

    async def _partitions(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        """The watched and dead-letter topics' partitions, asked of the broker (the consumer's cached metadata
        does not know topics it was never assigned)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, client_id="chaos-verify")
        await admin.start()
        try:
            names = [t for t in await admin.list_topics() if t in WATCHED or _platform_dead_letters(t)]
            described = await admin.describe_topics(names) if names else []
        finally:
            await admin.close()
        return [
            TopicPartition(d["topic"], p["partition"])
            for d in described
            if not d["error_code"]
            for p in d["partitions"]
        ]

    async def mark(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False, group_id=None)
        await consumer.start()
        try:
            self.start = dict(await consumer.end_offsets(await self._partitions(consumer)))
        finally:
            await consumer.stop()

    async def since(self, limit: float = 60.0) -> dict[str, list[ConsumerRecord[bytes, bytes]]]:
        """Every record written to a watched or dead-letter topic since `mark()` (topics made since: all)."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False, group_id=None)
        await consumer.start()
        try:
            parts = await self._partitions(consumer)
            ends = await consumer.end_offsets(parts)
            todo = [tp for tp in parts if ends[tp] > self.start.get(tp, 0)]
            found: dict[str, list[ConsumerRecord[bytes, bytes]]] = collections.defaultdict(list)
            if not todo:
                return found
            consumer.assign(todo)
            for tp in todo:
                consumer.seek(tp, self.start.get(tp, 0))
            deadline = time.monotonic() + limit
            while [tp for tp in todo if await consumer.position(tp) < ends[tp]]:
                if time.monotonic() > deadline:
                    raise TimeoutError("could not read the topics to their end")
                for tp, records in (await consumer.getmany(timeout_ms=300)).items():
                    found[tp.topic].extend(r for r in records if r.offset < ends[tp])
            return found
        finally:
            await consumer.stop()


@dataclass
class Counts:
    acknowledged: int = 0
    stored: int = 0
    routed: int = 0  # reports with exactly one assignment
    assigned_on_timeline: int = 0  # reports whose tracking timeline shows `assigned` (once or more)
    lost: list[str] = field(default_factory=list)  # acknowledged, then not stored or never routed
    raw_duplicates: dict[str, int] = field(default_factory=dict)  # topic -> records repeating an event id
    duplicated_effects: dict[str, int] = field(default_factory=dict)  # what -> how many doubled
    deliveries: dict[str, int] = field(default_factory=dict)  # delivery status -> count
    emails: int = 0
    dlq_records: int = 0
    dlq_poison: int = 0  # distinct (poison record, handler) pairs in the DLQs
    dlq_unexpected: int = 0  # dead letters that are not poison records
    poison_missing: int = 0  # poison records no handler dead-lettered
    dlq_handlers: list[str] = field(default_factory=list)
    media_acknowledged: int = 0
    media_stored: int = 0
    media_statuses: dict[str, int] = field(default_factory=dict)

    @property
    def duplicated(self) -> int:
        return sum(self.duplicated_effects.values())


async def drained(conn: asyncpg.Connection, report_ids: list[uuid.UUID], media_ids: list[uuid.UUID]) -> bool:
    """Nothing left in flight: every report stored and assigned, every outbox empty, every delivery of these
    reports finished, every upload sanitised (or refused)."""
    waiting = await conn.fetchval(
        "SELECT count(*) FROM unnest($1::uuid[]) AS i(id) LEFT JOIN intake.reports r USING (id) "
        "WHERE r.status IS DISTINCT FROM 'assigned'",
        report_ids,
    )
    if waiting:
        return False
    for schema in SCHEMAS_WITH_OUTBOX:
        pending = await conn.fetchval(
            f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL AND parked_at IS NULL"
        )
        if pending:
            return False
    unfinished = await conn.fetchval(
        "SELECT count(*) FROM notify.deliveries WHERE report_id = ANY($1::uuid[]) AND status = ANY($2::text[])",
        report_ids,
        list(UNFINISHED_DELIVERIES),
    )
    processing = await conn.fetchval(
        "SELECT count(*) FROM media.media_objects WHERE id = ANY($1::uuid[]) AND status = 'processing'", media_ids
    )
    return not unfinished and not processing


async def count(
    conn: asyncpg.Connection,
    records: dict[str, list[ConsumerRecord[bytes, bytes]]],
    report_ids: list[uuid.UUID],
    media_ids: list[uuid.UUID],
    poison: list[bytes],
    mail_dir: Path,
    since_wall: float,
) -> Counts:
    c = Counts(acknowledged=len(report_ids), media_acknowledged=len(media_ids))
    stored = {r["id"] for r in await conn.fetch("SELECT id FROM intake.reports WHERE id = ANY($1::uuid[])", report_ids)}
    c.stored = len(stored)
    assignments = collections.Counter(
        r["report_id"]
        for r in await conn.fetch("SELECT report_id FROM routing.assignments WHERE report_id = ANY($1)", report_ids)
    )
    c.routed = sum(1 for n in assignments.values() if n == 1)
    c.lost = sorted(str(i) for i in report_ids if i not in stored or assignments[i] == 0)
    c.duplicated_effects["assignments"] = sum(n - 1 for n in assignments.values() if n > 1)

    timeline = await conn.fetch(
        "SELECT report_id, status, count(*) AS n FROM intake.report_timeline WHERE report_id = ANY($1) "
        "GROUP BY report_id, status",
        report_ids,
    )
    c.assigned_on_timeline = sum(1 for r in timeline if r["status"] == "assigned")
    c.duplicated_effects["timeline entries"] = sum(r["n"] - 1 for r in timeline if r["n"] > 1)

    deliveries = await conn.fetch(
        "SELECT report_id, kind, channel, audience, recipient, status FROM notify.deliveries "
        "WHERE report_id = ANY($1::uuid[])",
        report_ids,
    )
    c.deliveries = dict(sorted(collections.Counter(r["status"] for r in deliveries).items()))
    per_message = collections.Counter(
        (r["report_id"], r["kind"], r["channel"], r["audience"], r["recipient"]) for r in deliveries
    )
    c.duplicated_effects["deliveries"] = sum(n - 1 for n in per_message.values() if n > 1)

    mails = emails_since(mail_dir, {str(i) for i in report_ids}, since_wall)
    c.emails = sum(mails.values())
    c.duplicated_effects["emails"] = sum(n - 1 for n in mails.values() if n > 1)

    ours = {str(i) for i in report_ids}
    status_events: dict[tuple[str, int], set[uuid.UUID]] = collections.defaultdict(set)
    for topic in WATCHED:
        seen: collections.Counter[uuid.UUID] = collections.Counter()
        for record in records.get(topic, []):
            try:
                event = Envelope.from_bytes(record.value or b"")
            except ValueError:
                continue  # a poison record
            report_id = str(event.data.get("report_id", record.key.decode() if record.key else ""))
            if report_id not in ours:
                continue
            seen[event.event_id] += 1
            if topic == topics.REPORT_STATUS_CHANGED:
                status_events[(report_id, int(event.data.get("sequence", -1)))].add(event.event_id)
        c.raw_duplicates[topic] = sum(n - 1 for n in seen.values() if n > 1)
    c.duplicated_effects["status events (report, sequence)"] = sum(
        len(ids) - 1 for ids in status_events.values() if len(ids) > 1
    )

    poison_set = set(poison)
    dead: collections.Counter[tuple[bytes, str]] = collections.Counter()
    for topic, recs in records.items():
        if not topic.endswith(".dlq"):
            continue
        for record in recs:
            c.dlq_records += 1
            value = record.value or b""
            if value in poison_set:
                handler = dict(record.headers or ()).get("dlq.handler", b"?").decode()
                dead[(value, handler)] += 1
            else:
                c.dlq_unexpected += 1
    c.dlq_poison = len(dead)
    c.dlq_handlers = sorted({h for _, h in dead})
    c.poison_missing = len(poison_set - {v for v, _ in dead})

    media = await conn.fetch("SELECT id, status FROM media.media_objects WHERE id = ANY($1::uuid[])", media_ids)
    c.media_stored = len(media)
    c.media_statuses = dict(sorted(collections.Counter(r["status"] for r in media).items()))
    return c


def emails_since(mail_dir: Path, report_ids: set[str], since_wall: float) -> collections.Counter[tuple[str, str]]:
    """Messages the SMTP sink stored since `since_wall` about these reports, by (report, Message-ID): notify gives
    each delivery its own Message-ID, so a count above 1 is one delivery sent twice."""
    found: collections.Counter[tuple[str, str]] = collections.Counter()
    new = mail_dir / "new"
    if not new.exists():
        return found
    box = mailbox.Maildir(str(mail_dir), create=False)
    with os.scandir(new) as entries:
        recent = [e.name for e in entries if e.stat().st_mtime >= since_wall - 1]
    for name in recent:
        try:
            message = box.get_message(name.split(":", 1)[0])
        except KeyError:
            continue
        report_id = message["X-PAHT-Report-Id"]
        if report_id in report_ids:
            found[(report_id, str(message["Message-ID"]))] += 1
    return found


async def wait_drained(dsn: str, report_ids: list[uuid.UUID], media_ids: list[uuid.UUID], limit: float) -> float | None:
    """Seconds until `drained()`, or None when it did not happen within `limit`."""
    began = time.monotonic()
    while time.monotonic() - began < limit:
        try:
            conn = await asyncpg.connect(dsn, timeout=5)
            try:
                if await drained(conn, report_ids, media_ids):
                    return time.monotonic() - began
            finally:
                await conn.close()
        except (OSError, asyncpg.PostgresError, TimeoutError):
            pass
        await asyncio.sleep(0.5)
    return None
