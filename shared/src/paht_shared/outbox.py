"""Transactional outbox: `add` inside the caller's transaction; `OutboxRelay` publishes what committed.

Why: publishing after commit (a dual write) loses the event when the process dies in between; publishing
before commit announces a change that may roll back. The outbox row commits or rolls back with the change.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import zlib

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from prometheus_client import Counter, Gauge

from paht_shared.envelope import Envelope
from paht_shared.kafka import make_producer

log = structlog.get_logger("paht.outbox")

PUBLISHED = Counter("paht_outbox_published_total", "Outbox rows published to Kafka", ["topic"])
OUTBOX_PENDING = Gauge("paht_outbox_pending", "Outbox rows not yet published", ["schema"])
OUTBOX_OLDEST = Gauge("paht_outbox_oldest_pending_seconds", "Age of the oldest unpublished outbox row", ["schema"])
PURGE_INTERVAL_SECONDS = 600.0
# How many relays can publish one schema's outbox at once (each holds some of the buckets).
BUCKETS = 16
BUCKETS_PER_BATCH = 4
PRODUCER_RESETS = Counter("paht_outbox_producer_resets_total", "Producers recreated after a send failure")


NOTIFY_PREFIX = "paht_outbox_"


def notify_channel(schema: str) -> str:
    return NOTIFY_PREFIX + schema


async def add(conn: asyncpg.Connection, topic: str, event: Envelope, key: str) -> None:
    """Queue `event` for `topic` in the caller's open transaction (the key keeps one report in one partition)."""
    if not conn.is_in_transaction():
        raise RuntimeError("outbox.add must run inside the transaction that makes the change")
    await conn.execute(
        "INSERT INTO outbox (event_id, topic, key, payload, headers, bucket) "
        "VALUES ($1, $2, $3, $4, $5, abs(hashtext($3)) % $6)",
        event.event_id,
        topic,
        key,
        event.to_bytes(),
        {k: v.decode() for k, v in event.kafka_headers()},  # jsonb codec: see paht_shared.db
        BUCKETS,
    )
    # Delivered at commit time only, so a rolled-back event never wakes a relay.
    await conn.execute("SELECT pg_notify($1 || current_schema(), '')", NOTIFY_PREFIX)


async def purge_old_rows(conn: asyncpg.Connection, outbox_days: int, inbox_days: int) -> tuple[int, int]:
    """Delete published outbox rows and inbox rows past retention; returns (outbox, inbox) rows deleted.

    The inbox must outlive the broker's retention (7 days here): an event older than its inbox row can no
    longer be redelivered, so forgetting it is safe.
    """
    purged_outbox = await conn.execute(
        "DELETE FROM outbox WHERE published_at < now() - make_interval(days => $1)", outbox_days
    )
    purged_inbox = await conn.execute(
        "DELETE FROM inbox WHERE processed_at < now() - make_interval(days => $1)", inbox_days
    )
    return int(purged_outbox.split()[-1]), int(purged_inbox.split()[-1])


async def observe_backlog(pool: asyncpg.Pool, schema: str) -> None:
    """Set the backlog gauges: a growing or ageing backlog means the relays are down or Kafka is."""
    row = await pool.fetchrow(
        "SELECT count(*) AS pending, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) AS oldest "
        "FROM outbox WHERE published_at IS NULL"
    )
    OUTBOX_PENDING.labels(schema).set(row["pending"])
    OUTBOX_OLDEST.labels(schema).set(float(row["oldest"]))


class OutboxRelay:
    """Publishes pending outbox rows of one schema; several relays may run at once.

    Rows hash by key into buckets; a relay publishes only the buckets whose advisory lock it holds, so
    relays share the work while the events of one key (one report) keep their order.

    A batch is: lock pending rows, send them all, wait for every ack, mark them published, commit.
    A crash between send and commit re-sends the batch: consumers deduplicate by event_id (inbox).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        schema: str,
        bootstrap: str,
        client_id: str,
        batch_size: int = 200,
        poll_seconds: float = 1.0,
        send_timeout_seconds: float = 30.0,
        outbox_retention_days: int = 7,
        inbox_retention_days: int = 14,
    ) -> None:
        self._pool = pool
        self._schema = schema
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._send_timeout = send_timeout_seconds
        self._retention = (outbox_retention_days, inbox_retention_days)
        self._lock_space = zlib.crc32(f"paht-outbox-{schema}".encode()) & 0x7FFFFFFF  # advisory lock key space
        self._next_purge = 0.0
        self._producer: AIOKafkaProducer | None = None
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.last_progress = time.monotonic()

    async def run(self) -> None:
        listener = await self._pool.acquire()
        await listener.add_listener(notify_channel(self._schema), self._on_notify)
        log.info("outbox_relay_started", schema=self._schema, batch_size=self._batch_size)
        try:
            while not self._stopping.is_set():
                self.last_progress = time.monotonic()
                await self._purge_if_due()
                try:
                    published = await self.publish_batch()
                except Exception as exc:  # noqa: BLE001 - any failure: keep rows pending, retry with a new producer
                    # Rows stay pending; the next attempt uses a fresh producer.
                    log.warning("outbox_batch_failed", error=type(exc).__name__, detail=str(exc)[:200])
                    await self._reset_producer()
                    await self._sleep(min(5.0, self._poll_seconds * 2))
                    continue
                if published < self._batch_size:
                    await self._sleep(self._poll_seconds)
        finally:
            with contextlib.suppress(Exception):
                await listener.remove_listener(notify_channel(self._schema), self._on_notify)
            await self._pool.release(listener)
            await self._reset_producer()
            log.info("outbox_relay_stopped", schema=self._schema)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def publish_batch(self) -> int:
        """Publish one batch; returns how many rows it published."""
        producer = await self._ensure_producer()
        async with self._pool.acquire() as conn, conn.transaction():
            buckets = await self._claim_buckets(conn)
            if not buckets:
                return 0
            # SKIP LOCKED: only relays lock outbox rows, and they hold disjoint buckets; a row locked
            # anyway (a manual fix in progress) is left for the next pass instead of blocking the relay.
            rows = await conn.fetch(
                "SELECT id, topic, key, payload, headers FROM outbox WHERE published_at IS NULL "
                "AND bucket = ANY($1::smallint[]) ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
                buckets,
                self._batch_size,
            )
            if not rows:
                return 0
            # One deadline for the whole batch: with the broker gone, even send() can wait on metadata.
            async with asyncio.timeout(self._send_timeout):
                futures = []
                for row in rows:
                    headers = [(k, str(v).encode()) for k, v in row["headers"].items()]
                    futures.append(
                        await producer.send(
                            row["topic"], value=bytes(row["payload"]), key=row["key"].encode(), headers=headers
                        )
                    )
                await asyncio.gather(*futures)
            await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", [r["id"] for r in rows]
            )
        for row in rows:
            PUBLISHED.labels(row["topic"]).inc()
        log.debug("outbox_batch_published", count=len(rows))
        return len(rows)

    async def _claim_buckets(self, conn: asyncpg.Connection) -> list[int]:
        """A few buckets with pending rows that no other relay holds, tried in random order.

        Transaction-scoped advisory locks: they are released when the batch commits or rolls back, and a
        relay that dies loses them with its connection.
        """
        pending = [
            r["bucket"] for r in await conn.fetch("SELECT DISTINCT bucket FROM outbox WHERE published_at IS NULL")
        ]
        random.shuffle(pending)
        claimed: list[int] = []
        for bucket in pending:
            if await conn.fetchval("SELECT pg_try_advisory_xact_lock($1, $2)", self._lock_space, bucket):
                claimed.append(bucket)
                if len(claimed) == BUCKETS_PER_BATCH:
                    break
        return claimed

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = make_producer(
                self._bootstrap, self._client_id, request_timeout_ms=int(self._send_timeout * 1000)
            )
            try:
                await asyncio.wait_for(producer.start(), timeout=self._send_timeout)
            except BaseException:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(producer.stop(), timeout=5)
                raise
            self._producer = producer
        return self._producer

    async def _reset_producer(self) -> None:
        """A producer that failed after a broker outage can stay wedged: replace it, never reuse it."""
        producer, self._producer = self._producer, None
        if producer is not None:
            PRODUCER_RESETS.inc()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), timeout=5)

    async def _purge_if_due(self) -> None:
        now = time.monotonic()
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_INTERVAL_SECONDS
        try:
            async with self._pool.acquire() as conn:
                outbox_rows, inbox_rows = await purge_old_rows(conn, *self._retention)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("outbox_purge_failed", error=type(exc).__name__)
            return
        if outbox_rows or inbox_rows:
            log.info("outbox_purged", outbox_rows=outbox_rows, inbox_rows=inbox_rows)

    def _on_notify(self, *_args: object) -> None:
        self._wake.set()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()
