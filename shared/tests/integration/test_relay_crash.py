"""Kill -9 the relay in the middle of publishing 1,000 events; a restarted relay delivers them all."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from paht_shared import outbox
from paht_shared.consumer import ConsumerRunner, Subscription
from paht_shared.envelope import Envelope
from paht_shared.testing.kafka import read_all, wait_until

TOTAL = 1000
PARTITIONS = 3


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


async def test_kill_relay_mid_batch_then_restart_delivers_every_event_once(
    db_pool: asyncpg.Pool,
    admin_dsn: str,
    test_schema: str,
    kafka_bootstrap: str,
    new_topic: Callable[..., Awaitable[str]],
) -> None:
    """All 1,000 arrive after a SIGKILL; the consumer's effects count exactly 1,000."""
    topic = await new_topic(partitions=PARTITIONS)
    await db_pool.execute("CREATE TABLE effects (event_id uuid NOT NULL)")
    async with db_pool.acquire() as conn, conn.transaction():
        for n in range(TOTAL):
            ev = Envelope(event_type="test.crash.v1", producer="test", correlation_id=f"c{n}", data={"n": n})
            await outbox.add(conn, topic, ev, key=f"k{n % 50}")

    relay = start_relay(admin_dsn, test_schema, kafka_bootstrap, batch_size=250)
    async with BrokerProbe(kafka_bootstrap, topic, PARTITIONS) as probe:
        try:
            # Kill as soon as the first records reach the broker: the relay is inside a batch.
            async def some_published() -> bool:
                return await probe.count() > 0

            await wait_until(some_published, 60, interval=0.005)
            os.kill(relay.pid, signal.SIGKILL)
            relay.wait(10)
        finally:
            if relay.poll() is None:
                relay.kill()
        on_broker_at_kill = await probe.count()
    marked = await db_pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL")
    assert marked < TOTAL, "the relay finished before the kill: the test proved nothing"
    assert on_broker_at_kill > 0

    restarted = start_relay(admin_dsn, test_schema, kafka_bootstrap, batch_size=250)
    runner = ConsumerRunner(
        db_pool,
        Subscription("test.crash", (topic,), _record),
        kafka_bootstrap,
        group_id=f"g-{uuid.uuid4()}",
        client_id="crash-test",
    )
    consuming = asyncio.create_task(runner.run())
    try:

        async def all_effects() -> bool:
            return bool(await db_pool.fetchval("SELECT count(*) FROM effects") >= TOTAL)

        await wait_until(all_effects, 120)
        await wait_until(lambda: _all_marked(db_pool), 60)
        await asyncio.sleep(1)  # would a late duplicate add a second effect? give it the chance
    finally:
        runner.stop()
        await consuming
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(20)

    assert await db_pool.fetchval("SELECT count(*) FROM effects") == TOTAL
    assert await db_pool.fetchval("SELECT count(DISTINCT event_id) FROM effects") == TOTAL
    delivered = await read_all(kafka_bootstrap, topic)
    distinct = {Envelope.from_bytes(r.value).event_id for r in delivered}
    assert len(distinct) == TOTAL
    # Records sent before the kill but not marked were sent again: duplicates on the wire, not in effects.
    print(f"records on broker: {len(delivered)} for {TOTAL} events; marked before kill: {marked}")


async def _record(ev: Envelope, conn: asyncpg.Connection) -> None:
    await conn.execute("INSERT INTO effects (event_id) VALUES ($1)", ev.event_id)


async def _all_marked(pool: asyncpg.Pool) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0)
