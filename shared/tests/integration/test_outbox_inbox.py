"""Outbox -> Kafka -> consumer -> inbox, through the real broker and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from paht_shared import outbox
from paht_shared.consumer import ConsumerRunner, Subscription, handle_once
from paht_shared.envelope import Envelope
from paht_shared.outbox import OutboxRelay
from paht_shared.testing.kafka import read_all, wait_until


def event(n: int) -> Envelope:
    return Envelope(event_type="test.happened.v1", producer="test", correlation_id=f"c-{n}", data={"n": n})


async def effects_table(pool: asyncpg.Pool) -> None:
    # deliberately no unique constraint: a second effect of the same event would show as a second row
    await pool.execute("CREATE TABLE effects (event_id uuid NOT NULL, n int NOT NULL)")


async def record_effect(ev: Envelope, conn: asyncpg.Connection) -> None:
    await conn.execute("INSERT INTO effects (event_id, n) VALUES ($1, $2)", ev.event_id, ev.data["n"])


async def test_rolled_back_event_is_never_published_committed_one_is_published_once(
    db_pool: asyncpg.Pool, test_schema: str, kafka_bootstrap: str, new_topic: Callable[..., Awaitable[str]]
) -> None:
    """Only what committed reaches Kafka, exactly once."""
    topic = await new_topic()
    rolled_back, committed = event(1), event(2)
    async with db_pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        await outbox.add(conn, topic, rolled_back, key="r1")
        await tx.rollback()  # the change failed after the event was queued
        async with conn.transaction():
            await outbox.add(conn, topic, committed, key="r2")
    relay = OutboxRelay(db_pool, test_schema, kafka_bootstrap, "test-relay")
    assert await relay.publish_batch() == 1
    assert await relay.publish_batch() == 0  # nothing left: a second pass publishes nothing again
    await relay._reset_producer()
    records = await read_all(kafka_bootstrap, topic)
    assert [Envelope.from_bytes(r.value).event_id for r in records] == [committed.event_id]
    headers = dict(records[0].headers)
    assert headers["event_id"] == str(committed.event_id).encode()
    assert headers["event_type"] == b"test.happened.v1"
    assert records[0].key == b"r2"


async def test_outbox_add_outside_a_transaction_is_refused(db_pool: asyncpg.Pool) -> None:
    """An event queued outside the change's transaction would be a dual write."""
    async with db_pool.acquire() as conn:
        with pytest.raises(RuntimeError):
            await outbox.add(conn, "t", event(1), key="k")


async def test_same_event_delivered_twice_has_one_effect(db_pool: asyncpg.Pool) -> None:
    """The inbox row and the effect commit together, so a redelivery is a no-op."""
    await effects_table(db_pool)
    ev = event(7)
    assert await handle_once(db_pool, "h", ev, "topic", record_effect) is True
    assert await handle_once(db_pool, "h", ev, "topic", record_effect) is False
    assert await db_pool.fetchval("SELECT count(*) FROM effects") == 1
    # another handler of the same event is independent
    assert await handle_once(db_pool, "other", ev, "topic", record_effect) is True


async def test_failed_handler_leaves_no_inbox_row(db_pool: asyncpg.Pool) -> None:
    """If the effect fails, the inbox row rolls back too, so a retry runs the handler again."""
    await effects_table(db_pool)

    async def failing(ev: Envelope, conn: asyncpg.Connection) -> None:
        await record_effect(ev, conn)
        raise ValueError("boom")

    ev = event(3)
    with pytest.raises(ValueError, match="boom"):
        await handle_once(db_pool, "h", ev, "topic", failing)
    assert await db_pool.fetchval("SELECT count(*) FROM inbox") == 0
    assert await handle_once(db_pool, "h", ev, "topic", record_effect) is True
    assert await db_pool.fetchval("SELECT count(*) FROM effects") == 1


async def test_round_trip_through_broker_with_duplicates_on_the_wire(
    db_pool: asyncpg.Pool, test_schema: str, kafka_bootstrap: str, new_topic: Callable[..., Awaitable[str]]
) -> None:
    """Relay publishes, the consumer runner handles; a record published twice still has one effect."""
    await effects_table(db_pool)
    topic = await new_topic()
    events = [event(n) for n in range(20)]
    async with db_pool.acquire() as conn, conn.transaction():
        for ev in events:
            await outbox.add(conn, topic, ev, key=f"r{ev.data['n'] % 4}")
    relay = OutboxRelay(db_pool, test_schema, kafka_bootstrap, "test-relay")
    assert await relay.publish_batch() == 20
    # Simulate a relay that crashed after sending but before marking: the same rows go out again.
    await db_pool.execute(
        "UPDATE outbox SET published_at = NULL WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT 5)"
    )
    assert await relay.publish_batch() == 5
    await relay._reset_producer()
    runner = ConsumerRunner(
        db_pool, Subscription("test.effects", (topic,), record_effect), kafka_bootstrap, f"g-{uuid.uuid4()}", "t"
    )
    task = asyncio.create_task(runner.run())
    try:
        await wait_until(lambda: _count(db_pool, "SELECT count(*) FROM inbox"), 30)
        await wait_until(lambda: _equals(db_pool, "SELECT count(*) FROM inbox", 20), 30)
    finally:
        runner.stop()
        await task
    assert len(await read_all(kafka_bootstrap, topic)) == 25
    assert await db_pool.fetchval("SELECT count(*) FROM effects") == 20
    assert await db_pool.fetchval("SELECT count(DISTINCT event_id) FROM effects") == 20


async def _count(pool: asyncpg.Pool, sql: str) -> bool:
    return bool(await pool.fetchval(sql))


async def _equals(pool: asyncpg.Pool, sql: str, expected: int) -> bool:
    return bool(await pool.fetchval(sql) == expected)


async def test_purge_removes_only_rows_past_retention(db_pool: asyncpg.Pool) -> None:
    """Old published outbox rows and old inbox rows go; pending and recent rows stay."""
    async with db_pool.acquire() as conn, conn.transaction():
        for n in range(4):
            await outbox.add(conn, "t", event(n), key="k")
    await db_pool.execute(
        "UPDATE outbox SET published_at = now() - interval '10 days' "
        "WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT 2)"
    )
    await db_pool.execute(
        "UPDATE outbox SET created_at = now() - interval '30 days' WHERE published_at IS NULL"
    )  # old but never published: must survive
    await db_pool.execute(
        "INSERT INTO inbox (handler, event_id, topic, processed_at) VALUES "
        "('h', gen_random_uuid(), 't', now() - interval '20 days'), ('h', gen_random_uuid(), 't', now())"
    )
    async with db_pool.acquire() as conn:
        assert await outbox.purge_old_rows(conn, outbox_days=7, inbox_days=14) == (2, 1)
    assert await db_pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 2
    assert await db_pool.fetchval("SELECT count(*) FROM inbox") == 1


async def test_concurrent_relays_share_the_work_and_keep_each_keys_order(
    db_pool: asyncpg.Pool, test_schema: str, kafka_bootstrap: str, new_topic: Callable[..., Awaitable[str]]
) -> None:
    """Three relays at once: every event published once, and per key in the order it was written."""
    topic = await new_topic(partitions=3)
    keys = [f"report-{k}" for k in range(24)]
    for round_ in range(10):
        async with db_pool.acquire() as conn, conn.transaction():
            for key in keys:
                ev = Envelope(event_type="t", producer="p", correlation_id="c", data={"key": key, "seq": round_})
                await outbox.add(conn, topic, ev, key=key)
    relays = [OutboxRelay(db_pool, test_schema, kafka_bootstrap, f"r{i}", batch_size=20) for i in range(3)]

    async def drain(relay: OutboxRelay) -> int:
        total = 0
        while await db_pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"):
            total += await relay.publish_batch()
            await asyncio.sleep(0)
        await relay._reset_producer()  # close the producer the batches opened
        return total

    counts = await asyncio.gather(*(drain(r) for r in relays))
    assert sum(counts) == 240
    assert sorted(counts)[-2] > 0, f"the work was not shared: {counts}"
    assert await db_pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
    records = await read_all(kafka_bootstrap, topic)
    assert len(records) == 240
    by_key: dict[str, list[int]] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        data = Envelope.from_bytes(record.value).data
        by_key.setdefault(data["key"], []).append(data["seq"])
    assert all(seqs == list(range(10)) for seqs in by_key.values())
