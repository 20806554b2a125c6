"""Kill -9 a consumer after its database commits and before its offset commit: the restart deduplicates.

The redelivered records are ones the inbox already holds, so the restarted consumer must count them as
duplicates (`paht_events_handled_total{outcome="duplicate"}`) and the effects stay exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import REGISTRY

from paht_shared.consumer import ConsumerRunner, Subscription
from paht_shared.envelope import Envelope
from paht_shared.testing.kafka import publish, running, wait_until

EVENTS = 40
KILL_TRIES = 3
CONSUMER = Path(__file__).with_name("slow_consumer.py")


def counted(handler: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("paht_events_handled_total", {"handler": handler, "outcome": outcome}) or 0.0


async def committed_offset(bootstrap: str, group: str, topic: str) -> int:
    """The group's committed position in partition 0 (0 when it never committed)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group, partitions=[TopicPartition(topic, 0)])
    finally:
        await admin.close()
    found = offsets.get(TopicPartition(topic, 0))
    return max(found.offset, 0) if found is not None else 0


async def effects(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM effects"))


async def test_consumer_killed_between_db_commit_and_offset_commit_skips_the_redelivered_events(
    db_pool: asyncpg.Pool,
    admin_dsn: str,
    test_schema: str,
    kafka_bootstrap: str,
    new_topic: Callable[..., Awaitable[str]],
) -> None:
    """Handled-but-uncommitted records come back after the kill; the inbox skips each one, effects stay 40."""
    topic = await new_topic(partitions=1)  # one partition: offsets and effects line up one to one
    await db_pool.execute("CREATE TABLE effects (event_id uuid NOT NULL)")
    events = [
        Envelope(event_type="test.dedup.v1", producer="test", correlation_id=f"c{n}", data={"n": n})
        for n in range(EVENTS)
    ]
    await publish(kafka_bootstrap, topic, [ev.to_bytes() for ev in events])
    group, handler = f"g-{uuid.uuid4()}", f"test.dedup.{uuid.uuid4().hex[:8]}"

    for _ in range(KILL_TRIES):
        before = await effects(db_pool)
        consumer = subprocess.Popen(
            [sys.executable, str(CONSUMER), admin_dsn, test_schema, kafka_bootstrap, topic, group, handler],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:

            async def some_handled(before: int = before) -> bool:
                return await effects(db_pool) >= before + 5

            await wait_until(some_handled, 60, interval=0.01)
            os.kill(consumer.pid, signal.SIGKILL)
            consumer.wait(10)
        finally:
            if consumer.poll() is None:
                consumer.kill()
        handled_at_kill = await effects(db_pool)
        committed = await committed_offset(kafka_bootstrap, group, topic)
        if committed < handled_at_kill:
            break  # the kill landed after some database commits and before their offsets were committed
    else:
        pytest.fail(f"in {KILL_TRIES} tries no kill landed between a database commit and its offset commit")
    assert handled_at_kill < EVENTS, "the consumer finished before it was killed: the test proved nothing"
    redelivered = handled_at_kill - committed

    duplicates_before = counted(handler, "duplicate")
    handled_before = counted(handler, "handled")
    restarted = ConsumerRunner(db_pool, Subscription(handler, (topic,), _record), kafka_bootstrap, group, "restarted")
    async with running(restarted):

        async def all_seen() -> bool:
            return counted(handler, "handled") - handled_before + counted(handler, "duplicate") - duplicates_before >= (
                EVENTS - committed
            )

        await wait_until(all_seen, 60)
        await asyncio.sleep(0.5)  # a second delivery of anything would show in this window

    assert redelivered > 0
    assert counted(handler, "duplicate") - duplicates_before == redelivered
    assert counted(handler, "handled") - handled_before == EVENTS - handled_at_kill
    assert await effects(db_pool) == EVENTS
    assert await db_pool.fetchval("SELECT count(DISTINCT event_id) FROM effects") == EVENTS
    assert await committed_offset(kafka_bootstrap, group, topic) == EVENTS


async def _record(ev: Envelope, conn: asyncpg.Connection) -> None:
    await conn.execute("INSERT INTO effects (event_id) VALUES ($1)", ev.event_id)
