"""Outbox rows Kafka refuses for themselves are parked after bounded attempts; the rest of their bucket goes out."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client import REGISTRY

from paht_shared import outbox
from paht_shared.envelope import Envelope
from paht_shared.kafka import ensure_topics
from paht_shared.outbox import OutboxRelay, observe_backlog
from paht_shared.testing.kafka import read_all

MAX_ATTEMPTS = 3
KEY = "report-1"  # one key: every row below is in the same bucket


def event(n: int, filler: int = 0) -> Envelope:
    return Envelope(
        event_type="test.parking.v1", producer="test", correlation_id=f"c{n}", data={"n": n, "filler": "x" * filler}
    )


async def queue(pool: asyncpg.Pool, rows: list[tuple[str, Envelope]]) -> list[int]:
    """Queue the events in one transaction, in order; returns their outbox ids."""
    async with pool.acquire() as conn, conn.transaction():
        for topic, ev in rows:
            await outbox.add(conn, topic, ev, key=KEY)
        return [r["id"] for r in await conn.fetch("SELECT id FROM outbox ORDER BY id")]


async def drain(relay: OutboxRelay, pool: asyncpg.Pool, batches: int = 10) -> None:
    """Run batches until no row is left to send (published or parked); fail if that never happens."""
    for _ in range(batches):
        await relay.publish_batch()
        if not await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL AND parked_at IS NULL"):
            return
    raise AssertionError("rows still pending: a refused row is holding back its bucket")


@pytest.fixture
async def relay(db_pool: asyncpg.Pool, test_schema: str, kafka_bootstrap: str) -> AsyncIterator[OutboxRelay]:
    # No pause between attempts, so the test needs no clock; a long send timeout, so a relay that waited on
    # the metadata of a missing topic would be caught failing whole batches instead of parking one row.
    worker = OutboxRelay(
        db_pool,
        test_schema,
        kafka_bootstrap,
        "parking-test",
        send_timeout_seconds=20,
        max_attempts=MAX_ATTEMPTS,
        retry_backoff_seconds=0,
    )
    yield worker
    await worker._reset_producer()


async def create_small_topic(bootstrap: str) -> str:
    """A topic whose broker-side limit is 2 KB: a bigger record batch is refused by the broker itself."""
    name = f"small.{uuid.uuid4().hex[:10]}.v1"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="parking-test")
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, num_partitions=1, replication_factor=1, topic_configs={"max.message.bytes": "2048"})]
        )
    finally:
        await admin.close()
    return name


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_rows_kafka_refuses_are_parked_and_later_rows_of_their_bucket_are_published(
    db_pool: asyncpg.Pool,
    test_schema: str,
    kafka_bootstrap: str,
    new_topic: Callable[..., Awaitable[str]],
    relay: OutboxRelay,
) -> None:
    """A missing topic and records too large (for the broker, for the producer) are parked with their reasons."""
    good = await new_topic(partitions=1)
    small = await create_small_topic(kafka_bootstrap)
    missing = f"missing.{uuid.uuid4().hex[:10]}.v1"  # never created (the broker does not auto-create)
    parked_before = sample("paht_outbox_rows_parked_total", schema=test_schema, reason="MessageSizeTooLargeError")
    assert parked_before is None
    first, no_topic, too_big_for_broker, neighbour, too_big_for_producer, last = await queue(
        db_pool,
        [
            (good, event(0)),
            (missing, event(1)),
            (small, event(2, filler=8_000)),
            (small, event(3)),  # same partition and first batch as the refused one: must not be parked with it
            (good, event(4, filler=1_100_000)),  # over the producer's max_request_size (1 MiB)
            (good, event(5)),
        ],
    )

    await drain(relay, db_pool)

    async with db_pool.acquire() as conn:
        parked = {r["id"]: (r["reason"], r["attempts"]) for r in await outbox.parked_rows(conn)}
    assert parked == {
        no_topic: ("UnknownTopicOrPartitionError", MAX_ATTEMPTS),
        too_big_for_broker: ("MessageSizeTooLargeError", MAX_ATTEMPTS),
        too_big_for_producer: ("MessageSizeTooLargeError", MAX_ATTEMPTS),
    }
    published = {r["id"] for r in await db_pool.fetch("SELECT id FROM outbox WHERE published_at IS NOT NULL")}
    assert published == {first, neighbour, last}
    assert [Envelope.from_bytes(r.value).data["n"] for r in await read_all(kafka_bootstrap, good)] == [0, 5]
    assert [Envelope.from_bytes(r.value).data["n"] for r in await read_all(kafka_bootstrap, small)] == [3]

    await observe_backlog(db_pool, test_schema)
    assert sample("paht_outbox_parked", schema=test_schema) == 3
    assert sample("paht_outbox_pending", schema=test_schema) == 0, "parked rows are not pending"
    assert sample("paht_outbox_rows_parked_total", schema=test_schema, reason="MessageSizeTooLargeError") == 2
    assert sample("paht_outbox_rows_parked_total", schema=test_schema, reason="UnknownTopicOrPartitionError") == 1


def run_cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "paht_shared", "outbox", *args], check=True, capture_output=True, text=True
    )
    return done.stdout


async def test_outbox_retry_publishes_a_parked_row_once_its_topic_exists(
    db_pool: asyncpg.Pool,
    admin_dsn: str,
    test_schema: str,
    kafka_bootstrap: str,
    new_topic: Callable[..., Awaitable[str]],
    relay: OutboxRelay,
) -> None:
    """The operator lists the parked row, creates the topic, retries it: the relay publishes it."""
    good = await new_topic(partitions=1)
    missing = f"late.{uuid.uuid4().hex[:10]}.v1"
    no_topic, after = await queue(db_pool, [(missing, event(1)), (good, event(2))])
    await drain(relay, db_pool)
    assert await db_pool.fetchval("SELECT parked_at IS NOT NULL FROM outbox WHERE id = $1", no_topic)
    assert await db_pool.fetchval("SELECT published_at IS NOT NULL FROM outbox WHERE id = $1", after)

    listing = run_cli("parked", "--dsn", admin_dsn, "--schema", test_schema).splitlines()
    assert listing[0].split("\t") == ["id", "topic", "attempts", "reason", "parked_at"]
    assert [line.split("\t")[:4] for line in listing[1:]] == [
        [str(no_topic), missing, str(MAX_ATTEMPTS), "UnknownTopicOrPartitionError"]
    ]

    await ensure_topics(kafka_bootstrap, [missing], 1)
    await relay.publish_batch()
    assert await db_pool.fetchval("SELECT published_at FROM outbox WHERE id = $1", no_topic) is None, (
        "a parked row stays parked until an operator retries it"
    )
    assert "unparked 1 outbox row(s)" in run_cli(
        "retry", "--dsn", admin_dsn, "--schema", test_schema, "--id", str(no_topic)
    )
    await drain(relay, db_pool)

    assert await db_pool.fetchval("SELECT published_at IS NOT NULL FROM outbox WHERE id = $1", no_topic)
    assert [Envelope.from_bytes(r.value).data["n"] for r in await read_all(kafka_bootstrap, missing)] == [1]
    assert "no parked outbox rows" in run_cli("parked", "--dsn", admin_dsn, "--schema", test_schema)
