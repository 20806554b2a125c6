"""Poison messages go to <topic>.dlq with their origin; the partition keeps moving."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import asyncpg

from paht_shared.consumer import ConsumerRunner, Subscription, dlq_topic
from paht_shared.dlq import replay_dead_letters
from paht_shared.envelope import Envelope
from paht_shared.kafka import make_producer
from paht_shared.testing.kafka import read_all, wait_until


async def test_poison_messages_are_dead_lettered_and_later_messages_processed(
    db_pool: asyncpg.Pool, kafka_bootstrap: str, new_topic: Callable[..., Awaitable[str]]
) -> None:
    """An unparseable record and a record whose handler always fails end in the DLQ; the rest are handled."""
    topic = await new_topic(partitions=1)  # one partition: the good records really come after the poison
    await db_pool.execute("CREATE TABLE effects (n int NOT NULL)")

    async def handle(ev: Envelope, conn: asyncpg.Connection) -> None:
        if ev.data.get("explode"):
            raise ZeroDivisionError("handler bug")
        await conn.execute("INSERT INTO effects (n) VALUES ($1)", ev.data["n"])

    producer = make_producer(kafka_bootstrap, "poison-test")
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{not json", key=b"r1", headers=[("event_type", b"broken")])
        bad = Envelope(event_type="t", producer="p", correlation_id="c", data={"explode": True})
        await producer.send_and_wait(topic, bad.to_bytes(), key=b"r1")
        for n in range(3):
            good = Envelope(event_type="t", producer="p", correlation_id="c", data={"n": n})
            await producer.send_and_wait(topic, good.to_bytes(), key=b"r1")
    finally:
        await producer.stop()

    runner = ConsumerRunner(
        db_pool,
        Subscription("test.poison", (topic,), handle),
        kafka_bootstrap,
        f"g-{uuid.uuid4()}",
        "poison",
        max_attempts=3,
        retry_backoff_seconds=0.01,
    )
    task = asyncio.create_task(runner.run())
    try:

        async def three_effects() -> bool:
            return bool(await db_pool.fetchval("SELECT count(*) FROM effects") == 3)

        await wait_until(three_effects, 30)
    finally:
        runner.stop()
        await task

    dead = await read_all(kafka_bootstrap, dlq_topic(topic))
    assert len(dead) == 2
    by_offset = {int(dict(r.headers)["dlq.original_offset"]): dict(r.headers) for r in dead}
    assert set(by_offset) == {0, 1}
    for headers in by_offset.values():
        assert headers["dlq.original_topic"] == topic.encode()
        assert headers["dlq.original_partition"] == b"0"
        assert headers["dlq.handler"] == b"test.poison"
    assert by_offset[0]["dlq.error"].startswith(b"unparseable envelope")
    assert by_offset[0]["event_type"] == b"broken"  # the original headers travel along
    assert by_offset[1]["dlq.error"].startswith(b"ZeroDivisionError")
    assert {r.value for r in dead} == {b"{not json", bad.to_bytes()}
    assert sorted(r["n"] for r in await db_pool.fetch("SELECT n FROM effects")) == [0, 1, 2]


async def test_dependency_outage_is_retried_not_dead_lettered(
    db_pool: asyncpg.Pool, kafka_bootstrap: str, new_topic: Callable[..., Awaitable[str]]
) -> None:
    """A handler whose mail server or database is down keeps the record until it works; nothing in the DLQ."""
    topic = await new_topic(partitions=1)
    await db_pool.execute("CREATE TABLE effects (n int NOT NULL)")
    outages = {"left": 4}

    async def handle(ev: Envelope, conn: asyncpg.Connection) -> None:
        if outages["left"]:
            outages["left"] -= 1
            raise ConnectionRefusedError("mail server down")
        await conn.execute("INSERT INTO effects (n) VALUES ($1)", ev.data["n"])

    producer = make_producer(kafka_bootstrap, "outage-test")
    await producer.start()
    try:
        for n in range(2):
            ev = Envelope(event_type="t", producer="p", correlation_id="c", data={"n": n})
            await producer.send_and_wait(topic, ev.to_bytes(), key=b"r")
    finally:
        await producer.stop()
    runner = ConsumerRunner(
        db_pool,
        Subscription("test.outage", (topic,), handle),
        kafka_bootstrap,
        f"g-{uuid.uuid4()}",
        "outage",
        max_attempts=1,  # a single message failure would dead-letter at once: outages must not count
        retry_backoff_seconds=0.01,
    )
    task = asyncio.create_task(runner.run())
    try:

        async def both_handled() -> bool:
            return bool(await db_pool.fetchval("SELECT count(*) FROM effects") == 2)

        await wait_until(both_handled, 30)
    finally:
        runner.stop()
        await task
    assert outages["left"] == 0
    assert await read_all(kafka_bootstrap, dlq_topic(topic)) == []


async def test_dead_letters_replayed_after_a_fix_are_handled_once(
    db_pool: asyncpg.Pool, kafka_bootstrap: str, new_topic: Callable[..., Awaitable[str]]
) -> None:
    """A bug dead-letters an event; after the fix, the replay delivers it; replaying again sends nothing."""
    topic = await new_topic(partitions=2)
    await db_pool.execute("CREATE TABLE effects (n int NOT NULL)")
    fixed = {"yet": False}

    async def handle(ev: Envelope, conn: asyncpg.Connection) -> None:
        if not fixed["yet"]:
            raise KeyError("a bug in the handler")
        await conn.execute("INSERT INTO effects (n) VALUES ($1)", ev.data["n"])

    producer = make_producer(kafka_bootstrap, "replay-test")
    await producer.start()
    try:
        for n in range(3):
            ev = Envelope(event_type="t", producer="p", correlation_id="c", data={"n": n})
            await producer.send_and_wait(topic, ev.to_bytes(), key=f"r{n}".encode())
    finally:
        await producer.stop()
    runner = ConsumerRunner(
        db_pool,
        Subscription("test.replay", (topic,), handle),
        kafka_bootstrap,
        f"g-{uuid.uuid4()}",
        "replay",
        max_attempts=1,
    )
    task = asyncio.create_task(runner.run())
    try:

        async def three_dead() -> bool:
            return len(await read_all(kafka_bootstrap, dlq_topic(topic))) == 3

        await wait_until(three_dead, 30)
        fixed["yet"] = True
        group = f"replay-{uuid.uuid4()}"
        assert await replay_dead_letters(kafka_bootstrap, topic, group) == 3

        async def three_effects() -> bool:
            return bool(await db_pool.fetchval("SELECT count(*) FROM effects") == 3)

        await wait_until(three_effects, 30)
        assert await replay_dead_letters(kafka_bootstrap, topic, group) == 0  # already replayed
    finally:
        runner.stop()
        await task
    assert sorted(r["n"] for r in await db_pool.fetch("SELECT n FROM effects")) == [0, 1, 2]


async def test_consumer_started_before_the_broker_waits_for_it(db_pool: asyncpg.Pool) -> None:
    """Start order must not matter: with no broker reachable the runner keeps trying until stopped."""

    async def never(ev: Envelope, conn: asyncpg.Connection) -> None:
        raise AssertionError("nothing can arrive")

    runner = ConsumerRunner(
        db_pool,
        Subscription("test.nobroker", ("t",), never),
        "127.0.0.1:1",
        "g",
        "nobroker",
        retry_backoff_seconds=0.05,
    )
    task = asyncio.create_task(runner.run())
    await asyncio.sleep(1)
    assert not task.done()  # still trying, not crashed
    runner.stop()
    await asyncio.wait_for(task, 10)
