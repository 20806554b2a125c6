"""What a bench run leaves behind when it outran the platform, discarded so the next run starts on a quiet
platform instead of waiting minutes for a backlog to drain.

Only the bench's own work is discarded: bench.py refuses to start while any event is unpublished, so every
unread record and unpublished event after `since` is the bench's. Its reports stay stored as they were
(some `submitted` for good); its pending emails, SMS and pushes are deleted unsent."""

from __future__ import annotations

import datetime

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from benchmarks.workers import BACKGROUND, Stack, start, stop
from paht_devstack.services import SERVICES

SCHEMAS = tuple(s.name for s in SERVICES)  # each service's schema has an outbox


async def skip_to_end(bootstrap: str, topic: str, groups: list[str]) -> dict[str, int]:
    """Commit the end of `topic` for each group (none of whose consumers runs): what is left is never read.
    Returns the records each group skipped."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="paht-bench")
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = [TopicPartition(topic, p["partition"]) for p in described[0]["partitions"]]
    skipped: dict[str, int] = {}
    for group in groups:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign(partitions)
            ends = await consumer.end_offsets(partitions)
            committed = {tp: await consumer.committed(tp) or 0 for tp in partitions}
            await consumer.commit(ends)
            skipped[group] = sum(ends[tp] - committed[tp] for tp in partitions)
        finally:
            await consumer.stop()
    return skipped


async def platform_groups(bootstrap: str) -> dict[str, list[str]]:
    """topic -> the platform's consumer groups (named <service>.<handler>) with offsets on it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="paht-bench")
    await admin.start()
    try:
        groups = [g[0] for g in await admin.list_consumer_groups() if g[0].split(".", 1)[0] in SCHEMAS]
        by_topic: dict[str, set[str]] = {}
        for group in groups:
            for tp in await admin.list_consumer_group_offsets(group):
                by_topic.setdefault(tp.topic, set()).add(group)
    finally:
        await admin.close()
    return {topic: sorted(names) for topic, names in by_topic.items()}


async def discard(stack: Stack, since: datetime.datetime) -> dict[str, int]:
    """Stop the background processes, skip every unread record, delete the events and deliveries still
    pending from after `since`, start them again. Returns what was discarded, by kind."""
    stop(stack, *BACKGROUND)
    try:
        dropped: dict[str, int] = {}
        for topic, groups in (await platform_groups(stack.bootstrap)).items():
            skipped = sum((await skip_to_end(stack.bootstrap, topic, groups)).values())
            if skipped:
                dropped[f"unread {topic}"] = skipped
        conn = await asyncpg.connect(stack.admin_dsn)
        try:
            for schema in SCHEMAS:
                done = await conn.execute(
                    f"DELETE FROM {schema}.outbox WHERE published_at IS NULL AND created_at >= $1", since
                )
                dropped[f"unpublished {schema} events"] = int(done.split()[-1])
            done = await conn.execute(
                "DELETE FROM notify.deliveries WHERE status IN ('pending', 'sending') AND created_at >= $1", since
            )
            dropped["unsent deliveries"] = int(done.split()[-1])
        finally:
            await conn.close()
    finally:
        await start(stack, *BACKGROUND)
    return {kind: n for kind, n in dropped.items() if n}
