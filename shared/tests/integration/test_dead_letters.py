"""Poison messages go to <topic>.dlq with their origin; the partition keeps moving. Outages are not poison."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from paht_shared.consumer import ConsumerRunner, Handler, Subscription, dlq_topic
from paht_shared.dlq import replay_dead_letters
from paht_shared.envelope import Envelope
from paht_shared.testing.kafka import publish, read_all, running, wait_until


def event(**data: Any) -> Envelope:
    return Envelope(event_type="t", producer="p", correlation_id="c", data=data)


@pytest.fixture
async def effects(db_pool: asyncpg.Pool) -> Callable[[int], Awaitable[bool]]:
    """A table the handlers write to, and a predicate: has it exactly n rows yet?"""
    await db_pool.execute("CREATE TABLE effects (n int NOT NULL)")

    async def count_is(n: int) -> bool:
        return bool(await db_pool.fetchval("SELECT count(*) FROM effects") == n)

    return count_is


async def record(ev: Envelope, conn: asyncpg.Connection) -> None:
    await conn.execute("INSERT INTO effects (n) VALUES ($1)", ev.data["n"])


def runner(pool: asyncpg.Pool, bootstrap: str, topic: str, handle: Handler, max_attempts: int = 3) -> ConsumerRunner:
    return ConsumerRunner(
        pool,
        Subscription("test.dlq", (topic,), handle),
        bootstrap,
        group_id=f"g-{uuid.uuid4()}",
        client_id="dlq-test",
        max_attempts=max_attempts,
        retry_backoff_seconds=0.01,
    )


async def test_poison_messages_are_dead_lettered_and_later_messages_processed(
    db_pool: asyncpg.Pool,
    kafka_bootstrap: str,
    new_topic: Callable[..., Awaitable[str]],
    effects: Callable[[int], Awaitable[bool]],
) -> None:
    """An unparseable record and a record whose handler always fails end in the DLQ; the rest are handled."""
    topic = await new_topic(partitions=1)  # one partition: the good records really come after the poison

    async def handle(ev: Envelope, conn: asyncpg.Connection) -> None:
        if ev.data.get("explode"):
            raise ZeroDivisionError("handler bug")
        await record(ev, conn)

    bad = event(explode=True)
    await publish(kafka_bootstrap, topic, [b"{not json"], headers=[("event_type", b"broken")])
    await publish(kafka_bootstrap, topic, [bad.to_bytes(), *(event(n=n).to_bytes() for n in range(3))])
    async with running(runner(db_pool, kafka_bootstrap, topic, handle)):
        await wait_until(lambda: effects(3), 30)

    dead = await read_all(kafka_bootstrap, dlq_topic(topic))
    assert len(dead) == 2
    by_offset = {int(dict(r.headers)["dlq.original_offset"]): dict(r.headers) for r in dead}
    assert set(by_offset) == {0, 1}
    for headers in by_offset.values():
        assert headers["dlq.original_topic"] == topic.encode()
        assert headers["dlq.original_partition"] == b"0"
        assert headers["dlq.handler"] == b"test.dlq"
    assert by_offset[0]["dlq.error"].startswith(b"unparseable envelope")
    assert by_offset[0]["event_type"] == b"broken"  # the original headers travel along
    assert by_offset[1]["dlq.error"].startswith(b"ZeroDivisionError")
    assert {r.value for r in dead} == {b"{not json", bad.to_bytes()}
    assert sorted(r["n"] for r in await db_pool.fetch("SELECT n FROM effects")) == [0, 1, 2]


async def test_dependency_outage_is_retried_not_dead_lettered(
    db_pool: asyncpg.Pool,
    kafka_bootstrap: str,
    new_topic: Callable[..., Awaitable[str]],
    effects: Callable[[int], Awaitable[bool]],
) -> None:
    """A handler whose mail server or database is down keeps the record until it works; nothing in the DLQ."""
    topic = await new_topic(partitions=1)
    outages = {"left": 4}

    async def handle(ev: Envelope, conn: asyncpg.Connection) -> None:
        if outages["left"]:
            outages["left"] -= 1
            raise ConnectionRefusedError("mail server down")
        await record(ev, conn)

    await publish(kafka_bootstrap, topic, [event(n=n).to_bytes() for n in range(2)])
    # max_attempts=1: a single message failure would dead-letter at once, so outages must not count
    async with running(runner(db_pool, kafka_bootstrap, topic, handle, max_attempts=1)):
        await wait_until(lambda: effects(2), 30)
    assert outages["left"] == 0
    assert await read_all(kafka_bootstrap, dlq_topic(topic)) == []


async def test_dead_letters_replayed_after_a_fix_are_handled_once(
    db_pool: asyncpg.Pool,
    kafka_bootstrap: str,
    new_topic: Callable[..., Awaitable[str]],
    effects: Callable[[int], Awaitable[bool]],
) -> None:
    """A bug dead-letters events; after the fix, the replay delivers them; replaying again sends nothing."""
    topic = await new_topic(partitions=2)
    fixed = {"yet": False}

    async def handle(ev: Envelope, conn: asyncpg.Connection) -> None:
        if not fixed["yet"]:
            raise KeyError("a bug in the handler")
        await record(ev, conn)

    await publish(kafka_bootstrap, topic, [event(n=n).to_bytes() for n in range(3)])

    async def three_dead() -> bool:
        return len(await read_all(kafka_bootstrap, dlq_topic(topic))) == 3

    async with running(runner(db_pool, kafka_bootstrap, topic, handle, max_attempts=1)):
        await wait_until(three_dead, 30)
        fixed["yet"] = True
        group = f"replay-{uuid.uuid4()}"
        assert await replay_dead_letters(kafka_bootstrap, topic, group) == 3
        await wait_until(lambda: effects(3), 30)
        assert await replay_dead_letters(kafka_bootstrap, topic, group) == 0  # already replayed
    assert sorted(r["n"] for r in await db_pool.fetch("SELECT n FROM effects")) == [0, 1, 2]


async def test_consumer_started_before_the_broker_waits_for_it(db_pool: asyncpg.Pool) -> None:
    """Start order must not matter: with no broker reachable the runner keeps trying until stopped."""
    unreachable = runner(db_pool, "127.0.0.1:1", "t", record)
    task = asyncio.create_task(unreachable.run())
    await asyncio.sleep(1)
    assert not task.done()  # still trying, not crashed
    unreachable.stop()
    await asyncio.wait_for(task, 10)
