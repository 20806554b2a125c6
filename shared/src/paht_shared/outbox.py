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
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTimestampError,
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    TopicAuthorizationFailedError,
    UnsupportedForMessageFormatError,
)
from prometheus_client import Counter, Gauge

from paht_shared.envelope import Envelope
from paht_shared.kafka import make_producer

log = structlog.get_logger("paht.outbox")

PUBLISHED = Counter("paht_outbox_published_total", "Outbox rows published to Kafka", ["topic"])
OUTBOX_PENDING = Gauge("paht_outbox_pending", "Outbox rows not yet published (parked rows excluded)", ["schema"])
OUTBOX_OLDEST = Gauge("paht_outbox_oldest_pending_seconds", "Age of the oldest unpublished outbox row", ["schema"])
OUTBOX_PARKED = Gauge("paht_outbox_parked", "Outbox rows set aside after Kafka refused them too often", ["schema"])
ROWS_PARKED = Counter("paht_outbox_rows_parked_total", "Outbox rows this relay parked", ["schema", "reason"])
ROWS_REFUSED = Counter(
    "paht_outbox_rows_refused_total", "Sends Kafka refused for the record itself", ["schema", "reason"]
)
PURGE_INTERVAL_SECONDS = 600.0
# How many relays can publish one schema's outbox at once (each holds some of the buckets).
BUCKETS = 16
BUCKETS_PER_BATCH = 4
PRODUCER_RESETS = Counter("paht_outbox_producer_resets_total", "Producers recreated after a send failure")
BATCH_FAILURES = Counter(
    "paht_outbox_batch_failures_total", "Relay batches that failed (database or Kafka unavailable)", ["schema"]
)
# Asking the broker which topics exist must not take the whole send timeout (aiokafka's send() would wait that
# long for the metadata of a topic that does not exist, on every batch).
METADATA_TIMEOUT_SECONDS = 5.0
MAX_RETRY_PAUSE_SECONDS = 300.0
UNKNOWN_TOPIC = "UnknownTopicOrPartitionError"
# Rows a relay may send now: not published, not parked, not pausing after a refusal.
_SENDABLE = "published_at IS NULL AND parked_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= now())"
# Kafka refuses these for the record itself: sending it again gets the same answer, other records are not
# affected. Anything else (broker down, leader moving, timeouts) is the batch's trouble: the batch is retried
# as it is and no row's attempts grow, so a Kafka outage never parks anything.
RECORD_ERRORS: tuple[type[Exception], ...] = (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    InvalidTopicError,
    TopicAuthorizationFailedError,
    CorruptRecordException,
    InvalidTimestampError,
    UnsupportedForMessageFormatError,
)


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
    """Set the backlog gauges: a growing or ageing backlog means the relays are down or Kafka is; parked rows
    wait for an operator (`python -m paht_shared outbox parked`)."""
    row = await pool.fetchrow(
        "SELECT count(*) FILTER (WHERE parked_at IS NULL) AS pending, "
        "COALESCE(EXTRACT(EPOCH FROM now() - min(created_at) FILTER (WHERE parked_at IS NULL)), 0) AS oldest, "
        "count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked "
        "FROM outbox WHERE published_at IS NULL"
    )
    OUTBOX_PENDING.labels(schema).set(row["pending"])
    OUTBOX_OLDEST.labels(schema).set(float(row["oldest"]))
    OUTBOX_PARKED.labels(schema).set(row["parked"])


async def parked_rows(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """The parked rows, oldest first: id, topic, attempts, the reason (an error type) and when."""
    return list(
        await conn.fetch(
            "SELECT id, topic, attempts, last_error AS reason, parked_at FROM outbox "
            "WHERE parked_at IS NOT NULL ORDER BY id"
        )
    )


async def unpark(conn: asyncpg.Connection, ids: list[int] | None) -> int:
    """Give parked rows (all of them when `ids` is None) a fresh set of attempts and wake the relays.

    For after the cause is fixed (the topic created, the broker's size limit raised). Returns the rows unparked.
    """
    async with conn.transaction():
        status = await conn.execute(
            "UPDATE outbox SET parked_at = NULL, attempts = 0, next_attempt_at = NULL "
            "WHERE parked_at IS NOT NULL AND ($1::bigint[] IS NULL OR id = ANY($1::bigint[]))",
            ids,
        )
        await conn.execute("SELECT pg_notify($1 || current_schema(), '')", NOTIFY_PREFIX)
    return int(status.split()[-1])


@dataclass
class _Sent:
    """What became of one batch's sends."""

    published: list[int] = field(default_factory=list)  # row ids the broker acknowledged
    refused: dict[int, str] = field(default_factory=dict)  # row id -> error type, for the record itself
    broker_refused: bool = False  # the broker refused a record: the producer's sequence numbers are off
    failure: Exception | None = None  # the batch's trouble: rows not acknowledged stay pending, uncounted


class OutboxRelay:
    """Publishes pending outbox rows of one schema; several relays may run at once.

    Rows hash by key into buckets; a relay publishes only the buckets whose advisory lock it holds, so
    relays share the work while the events of one key (one report) keep their order.

    A batch is: lock pending rows, send them all, wait for every answer, mark the acknowledged ones published,
    commit. A crash between send and commit re-sends them: consumers deduplicate by event_id (inbox).

    A row Kafka refuses for itself (topic missing, record too large) must not hold back its bucket: its
    attempts grow, it waits a growing pause (meanwhile the later rows of its bucket go out) and after
    `max_attempts` it is parked with the reason, for an operator to retry.
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
        max_attempts: int = 10,
        retry_backoff_seconds: float = 1.0,
    ) -> None:
        self._pool = pool
        self._schema = schema
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._send_timeout = send_timeout_seconds
        self._retention = (outbox_retention_days, inbox_retention_days)
        self._max_attempts = max_attempts
        self._retry_backoff = retry_backoff_seconds
        self._lock_space = zlib.crc32(f"paht-outbox-{schema}".encode()) & 0x7FFFFFFF  # advisory lock key space
        self._next_purge = 0.0
        self._producer: AIOKafkaProducer | None = None
        self._listener: asyncpg.Connection | None = None
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.last_progress = time.monotonic()

    async def run(self) -> None:
        log.info("outbox_relay_started", schema=self._schema, batch_size=self._batch_size)
        try:
            while not self._stopping.is_set():
                self.last_progress = time.monotonic()
                await self._listen()
                await self._purge_if_due()
                try:
                    published = await self.publish_batch()
                except Exception as exc:  # noqa: BLE001 - any failure: keep rows pending, retry
                    log.warning("outbox_batch_failed", error=type(exc).__name__, detail=str(exc)[:200])
                    BATCH_FAILURES.labels(self._schema).inc()
                    if not _database_failure(exc):
                        await self._reset_producer()  # the next attempt uses a fresh producer
                    await self._sleep(min(5.0, self._poll_seconds * 2))
                    continue
                if published < self._batch_size:
                    await self._sleep(self._poll_seconds)
        finally:
            await self._unlisten()
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
                f"SELECT id, topic, key, payload, headers, attempts FROM outbox WHERE {_SENDABLE} "
                "AND bucket = ANY($1::smallint[]) ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
                buckets,
                self._batch_size,
            )
            if not rows:
                return 0
            sent = await self._send(producer, rows)
            if sent.published:
                await conn.execute(
                    "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", sent.published
                )
            refused = await self._count_refusals(conn, sent.refused) if sent.refused else []
        topics = {row["id"]: row["topic"] for row in rows}
        for row_id in sent.published:
            PUBLISHED.labels(topics[row_id]).inc()
        for row in refused:
            ROWS_REFUSED.labels(self._schema, row["last_error"]).inc()
            if row["parked"]:
                ROWS_PARKED.labels(self._schema, row["last_error"]).inc()
            report = log.error if row["parked"] else log.warning
            report(
                "outbox_row_parked" if row["parked"] else "outbox_row_refused",
                outbox_id=row["id"],
                topic=row["topic"],
                reason=row["last_error"],
                attempts=row["attempts"],
            )
        if sent.broker_refused:
            await self._reset_producer()
        if sent.failure is not None:
            raise sent.failure
        log.debug("outbox_batch_published", count=len(sent.published))
        return len(sent.published)

    async def _send(self, producer: AIOKafkaProducer, rows: list[asyncpg.Record]) -> _Sent:
        sent = _Sent()
        try:
            # One deadline for the whole batch: with the broker gone, even send() can wait on metadata.
            async with asyncio.timeout(self._send_timeout):
                missing = await self._missing_topics(producer, {row["topic"] for row in rows})
                await self._send_together(producer, [r for r in rows if r["attempts"] == 0], missing, sent)
                # Rows refused before go one at a time, after the others: a broker that refuses a whole
                # record batch because of one record then refuses only that one.
                for row in rows:
                    if row["attempts"] > 0:
                        await self._send_together(producer, [row], missing, sent)
        except Exception as exc:  # noqa: BLE001 - the batch's trouble; what was acknowledged is kept
            sent.failure = exc
        return sent

    async def _send_together(
        self, producer: AIOKafkaProducer, rows: list[asyncpg.Record], missing: dict[str, str], sent: _Sent
    ) -> None:
        """Send `rows` at once and wait for every answer; raise the first failure that is not the record's own."""
        in_flight: list[tuple[int, asyncio.Future[Any]]] = []
        for row in rows:
            if row["topic"] in missing:
                sent.refused[row["id"]] = missing[row["topic"]]
                continue
            headers = [(k, str(v).encode()) for k, v in row["headers"].items()]
            try:
                future = await producer.send(
                    row["topic"], value=bytes(row["payload"]), key=row["key"].encode(), headers=headers
                )
            except RECORD_ERRORS as exc:  # refused by the producer itself (larger than max_request_size)
                sent.refused[row["id"]] = type(exc).__name__
                continue
            in_flight.append((row["id"], future))
        results = await asyncio.gather(*(future for _, future in in_flight), return_exceptions=True)
        failure: BaseException | None = None
        for (row_id, _), result in zip(in_flight, results, strict=True):
            if not isinstance(result, BaseException):
                sent.published.append(row_id)
            elif isinstance(result, RECORD_ERRORS):
                sent.refused[row_id] = type(result).__name__
                sent.broker_refused = True
            elif failure is None:
                failure = result
        if failure is not None:
            raise failure

    async def _missing_topics(self, producer: AIOKafkaProducer, topics: set[str]) -> dict[str, str]:
        """The batch's topics the broker does not have (topic -> reason), asked with a short timeout.

        A failure to ask (broker down) is the batch's trouble and propagates.
        """
        unknown = {t for t in topics if producer.client.cluster.partitions_for_topic(t) is None}
        if not unknown:
            return {}
        async with asyncio.timeout(METADATA_TIMEOUT_SECONDS):
            metadata = await producer.client.fetch_all_metadata()
        return {
            topic: TopicAuthorizationFailedError.__name__ if topic in metadata.unauthorized_topics else UNKNOWN_TOPIC
            for topic in unknown
            if metadata.partitions_for_topic(topic) is None
        }

    async def _count_refusals(self, conn: asyncpg.Connection, refused: dict[int, str]) -> list[asyncpg.Record]:
        """One more attempt for each refused row, a doubled pause before the next, parked at `max_attempts`."""
        return list(
            await conn.fetch(
                "UPDATE outbox AS o SET attempts = o.attempts + 1, last_error = r.reason, "
                "parked_at = CASE WHEN o.attempts + 1 >= $3 THEN now() END, "
                "next_attempt_at = now() + make_interval(secs => least($4 * power(2, o.attempts), $5)) "
                "FROM unnest($1::bigint[], $2::text[]) AS r(id, reason) WHERE o.id = r.id "
                "RETURNING o.id, o.topic, o.attempts, o.last_error, o.parked_at IS NOT NULL AS parked",
                list(refused),
                list(refused.values()),
                self._max_attempts,
                self._retry_backoff,
                MAX_RETRY_PAUSE_SECONDS,
            )
        )

    async def _claim_buckets(self, conn: asyncpg.Connection) -> list[int]:
        """A few buckets with rows to send that no other relay holds, tried in random order.

        Transaction-scoped advisory locks: they are released when the batch commits or rolls back, and a
        relay that dies loses them with its connection.
        """
        # One index probe per bucket, not a DISTINCT over every pending row: with a 100,000-row backlog that scan
        # ran before every batch and held the relay to ~850 events/s.
        pending = [
            r["b"]
            for r in await conn.fetch(
                f"SELECT b FROM generate_series(0, {BUCKETS - 1}) AS b "
                f"WHERE EXISTS (SELECT 1 FROM outbox WHERE bucket = b AND {_SENDABLE})"
            )
        ]
        random.shuffle(pending)
        claimed: list[int] = []
        for bucket in pending:
            if await conn.fetchval("SELECT pg_try_advisory_xact_lock($1, $2)", self._lock_space, bucket):
                claimed.append(bucket)
                if len(claimed) == BUCKETS_PER_BATCH:
                    break
        return claimed

    async def _listen(self) -> None:
        """Be woken by commits (NOTIFY); after a database restart the old listening connection is gone.

        Without it the relay still polls every `poll_seconds`, so a failure here is only logged.
        """
        if self._listener is not None:
            try:
                if not self._listener.is_closed():
                    return
            except asyncpg.InterfaceError:  # the pool already took back the connection the server dropped
                pass
        await self._unlisten()
        try:
            listener = await self._pool.acquire()
        except Exception as exc:  # noqa: BLE001 - polling covers the gap; the batch will report the outage
            log.warning("outbox_listen_failed", error=type(exc).__name__)
            return
        try:
            await listener.add_listener(notify_channel(self._schema), self._on_notify)
        except Exception as exc:  # noqa: BLE001 - same: polling covers the gap
            log.warning("outbox_listen_failed", error=type(exc).__name__)
            with contextlib.suppress(Exception):
                await self._pool.release(listener)
            return
        self._listener = listener

    async def _unlisten(self) -> None:
        listener, self._listener = self._listener, None
        if listener is None:
            return
        with contextlib.suppress(Exception):
            await listener.remove_listener(notify_channel(self._schema), self._on_notify)
        with contextlib.suppress(Exception):
            await self._pool.release(listener)

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
        """A producer that failed after a broker outage can stay wedged, and one whose record the broker
        refused has its sequence numbers off: replace it, never reuse it."""
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
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
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


def _database_failure(exc: BaseException) -> bool:
    """The batch failed on PostgreSQL, not on Kafka (whose client errors are KafkaError): keep the producer."""
    return isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError | OSError)
