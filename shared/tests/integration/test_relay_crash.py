"""Kill -9 the relay between sending a batch and marking it sent; a restarted relay delivers every event.

The kill must land mid-batch for the test to mean anything: records on the broker whose outbox rows
were never marked. Those go out again after the restart, so the broker ends with more records than
events, and the consumer's inbox must turn each duplicate into a skipped delivery, not a second effect.
"""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import REGISTRY

from paht_shared import outbox
from paht_shared.consumer import ConsumerRunner, Subscription
from paht_shared.envelope import Envelope
from paht_shared.testing.kafka import read_all, wait_until

TOTAL = 1000
PARTITIONS = 3
KILL_TRIES = 6  # each try kills a fresh relay as soon as new records reach the broker
HANDLER = "test.relay-crash"


def start_relay(dsn: str, schema: str, bootstrap: str, batch_size: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "paht_shared",
            "relay",
            "--dsn",
            dsn,
            "--schema",
            schema,
            "--bootstrap",
            bootstrap,
            "--batch-size",
            str(batch_size),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


class BrokerProbe:
    """Counts the records in a topic from its end offsets (one client for the whole test)."""

    def __init__(self, bootstrap: str, topic: str, partitions: int) -> None:
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        self._partitions = [TopicPartition(topic, p) for p in range(partitions)]

    async def __aenter__(self) -> BrokerProbe:
        await self._consumer.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self._consumer.stop()

    async def count(self) -> int:
        return sum((await self._consumer.end_offsets(self._partitions)).values())


def duplicates_skipped() -> float:
    return REGISTRY.get_sample_value("paht_events_handled_total", {"handler": HANDLER, "outcome": "duplicate"}) or 0.0


async def more_than(probe: BrokerProbe, count: int) -> bool:
    return await probe.count() > count


async def marked(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL"))


async def kill_mid_batch(pool: asyncpg.Pool, probe: BrokerProbe, start: Callable[[], subprocess.Popen[bytes]]) -> int:
    """SIGKILL relays until one dies with records on the broker that its outbox rows do not show as sent.

    Returns how many records the broker holds beyond the rows marked sent: the duplicates to come.
    A kill that lands between two batches sends nothing twice, so it is retried (bounded), not accepted.
    """
    for _ in range(KILL_TRIES):
        before = await probe.count()
        relay = start()
        try:
            await wait_until(functools.partial(more_than, probe, before), 60, interval=0.002)
            os.kill(relay.pid, signal.SIGKILL)
            relay.wait(10)
        finally:
            if relay.poll() is None:
                relay.kill()
        await asyncio.sleep(0.5)  # a produce request already on the wire may still be appended
        sent_unmarked = await probe.count() - await marked(pool)
        if await marked(pool) == TOTAL:
            pytest.fail("the relay published everything before it was killed: lower the batch size")
        if sent_unmarked > 0:
            return sent_unmarked
    pytest.fail(f"in {KILL_TRIES} tries no kill landed between a batch's send and its commit")


async def test_kill_relay_mid_batch_then_restart_delivers_every_event_once(
    db_pool: asyncpg.Pool,
    admin_dsn: str,
    test_schema: str,
    kafka_bootstrap: str,
    new_topic: Callable[..., Awaitable[str]],
) -> None:
    """More records than events reach the broker (the batch in flight went out twice); effects are exactly 1,000."""
    topic = await new_topic(partitions=PARTITIONS)
    await db_pool.execute("CREATE TABLE effects (event_id uuid NOT NULL)")
    async with db_pool.acquire() as conn, conn.transaction():
        for n in range(TOTAL):
            ev = Envelope(event_type="test.crash.v1", producer="test", correlation_id=f"c{n}", data={"n": n})
            await outbox.add(conn, topic, ev, key=f"k{n % 50}")

    def start() -> subprocess.Popen[bytes]:
        return start_relay(admin_dsn, test_schema, kafka_bootstrap, batch_size=250)

    async with BrokerProbe(kafka_bootstrap, topic, PARTITIONS) as probe:
        in_flight = await kill_mid_batch(db_pool, probe, start)
        on_broker_after_kill = await probe.count()
    unmarked_after_kill = TOTAL - await marked(db_pool)

    restarted = start()
    skipped_before = duplicates_skipped()
    runner = ConsumerRunner(
        db_pool,
        Subscription(HANDLER, (topic,), _record),
        kafka_bootstrap,
        group_id=f"g-{uuid.uuid4()}",
        client_id="crash-test",
    )
    consuming = asyncio.create_task(runner.run())
    try:
        await wait_until(lambda: _all_marked(db_pool), 60)

        async def every_record_handled() -> bool:
            effects = await db_pool.fetchval("SELECT count(*) FROM effects")
            return bool(effects + duplicates_skipped() - skipped_before >= TOTAL + in_flight)

        await wait_until(every_record_handled, 120)
        await asyncio.sleep(1)  # would a late duplicate add a second effect? give it the chance
    finally:
        runner.stop()
        await consuming
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(20)

    delivered = await read_all(kafka_bootstrap, topic)
    # the restarted relay sent each unmarked row once: what was on the broker plus those
    assert len(delivered) == on_broker_after_kill + unmarked_after_kill == TOTAL + in_flight
    assert len(delivered) > TOTAL, "no duplicates were published: the crash did not happen mid-batch"
    assert len({Envelope.from_bytes(r.value).event_id for r in delivered}) == TOTAL
    assert await db_pool.fetchval("SELECT count(*) FROM effects") == TOTAL
    assert await db_pool.fetchval("SELECT count(DISTINCT event_id) FROM effects") == TOTAL
    assert duplicates_skipped() - skipped_before == in_flight, "each duplicate record skipped by the inbox"


async def _record(ev: Envelope, conn: asyncpg.Connection) -> None:
    await conn.execute("INSERT INTO effects (event_id) VALUES ($1)", ev.event_id)


async def _all_marked(pool: asyncpg.Pool) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0)
