"""Consumer runner: inbox in the handler's transaction, manual offset commits, bounded retries, DLQ.

For each record: parse the envelope; in one transaction record (handler, event_id) in the inbox and run the
handler; commit the offset only after that transaction committed. A record that cannot be parsed, or whose
handler fails `max_attempts` times, goes to `<topic>.dlq` with its origin in headers and the partition
moves on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from prometheus_client import Counter

from paht_shared.contracts.registry import UnreadableEvent
from paht_shared.envelope import Envelope
from paht_shared.failures import DEPENDENCY_ERRORS, is_dependency_failure
from paht_shared.kafka import make_consumer, make_producer

log = structlog.get_logger("paht.consumer")

Handler = Callable[[Envelope, asyncpg.Connection], Awaitable[None]]

HANDLED = Counter("paht_events_handled_total", "Events handled", ["handler", "outcome"])
DEPENDENCY_RETRIES = Counter(
    "paht_consumer_dependency_retries_total", "Handler runs that failed on a dependency and were retried", ["handler"]
)


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


# Failures of a dependency rather than of the message (one list for consumers and APIs, in failures.py): retried
# with backoff, without limit, instead of dead-lettered, so a mail server or database outage (a PostgreSQL
# restart included) does not empty a topic into its DLQ.
TRANSIENT_ERRORS = DEPENDENCY_ERRORS
MAX_OUTAGE_BACKOFF_SECONDS = 30.0


@dataclass(frozen=True)
class Subscription:
    """`name` is the inbox and consumer-group name: renaming it would make old events look new."""

    name: str
    topics: tuple[str, ...]
    handle: Handler
    is_transient: Callable[[BaseException], bool] = is_dependency_failure


async def handle_once(pool: asyncpg.Pool, handler_name: str, event: Envelope, topic: str, handle: Handler) -> bool:
    """Run `handle` unless this handler already processed the event; returns False for a duplicate."""
    async with pool.acquire() as conn, conn.transaction():
        inserted = await conn.fetchval(
            "INSERT INTO inbox (handler, event_id, topic) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING true",
            handler_name,
            event.event_id,
            topic,
        )
        if not inserted:
            return False
        await handle(event, conn)
        return True


class ConsumerRunner:
    def __init__(
        self,
        pool: asyncpg.Pool,
        subscription: Subscription,
        bootstrap: str,
        group_id: str,
        client_id: str,
        max_attempts: int = 3,
        retry_backoff_seconds: float = 0.5,
    ) -> None:
        self._pool = pool
        self._sub = subscription
        self._bootstrap = bootstrap
        self._group_id = group_id
        self._client_id = client_id
        self._max_attempts = max_attempts
        self._backoff = retry_backoff_seconds
        self._stopping = asyncio.Event()
        self.last_progress = time.monotonic()
        # Since when (time.monotonic()) the current record has been failing on a dependency; None while not
        # retrying. The worker's /readyz fails once it is too long ago: the partition is stuck.
        self.retrying_since: float | None = None
        self.dependency_retries = 0  # handler runs retried because of a dependency failure, in this process
        self._dlq: AIOKafkaProducer | None = None

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        consumer, dlq = await self._connect()
        if consumer is None or dlq is None:
            return  # stopped before Kafka could be reached
        self._dlq = dlq
        log.info("consumer_started", handler=self._sub.name, topics=list(self._sub.topics), group=self._group_id)
        try:
            while not self._stopping.is_set():
                self.last_progress = time.monotonic()
                batches = await consumer.getmany(timeout_ms=500, max_records=200)
                for tp, records in batches.items():
                    last: int | None = None
                    for record in records:
                        if self._stopping.is_set() or not await self._process(record):
                            break
                        self.retrying_since = None  # the record is done: what it waited for is back
                        last = record.offset
                    if last is not None:
                        await self._commit(consumer, tp, last + 1)
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()  # leaves the group cleanly; processed offsets are already committed
            with contextlib.suppress(Exception):
                await dlq.stop()
            log.info("consumer_stopped", handler=self._sub.name)

    async def _connect(self) -> tuple[AIOKafkaConsumer | None, AIOKafkaProducer | None]:
        """Start the clients, waiting out a broker that is not up yet (start order must not matter)."""
        delay = self._backoff
        while not self._stopping.is_set():
            self.last_progress = time.monotonic()
            consumer = make_consumer(self._bootstrap, self._group_id, list(self._sub.topics), self._client_id)
            dlq = make_producer(self._bootstrap, f"{self._client_id}-dlq")
            try:
                await consumer.start()
                await dlq.start()
            except (KafkaError, OSError) as exc:
                for client in (consumer, dlq):
                    with contextlib.suppress(Exception):
                        await client.stop()
                log.warning("kafka_unreachable", handler=self._sub.name, error=type(exc).__name__, retry_in=delay)
                if await self._stopped_within(delay):
                    break
                delay = min(MAX_OUTAGE_BACKOFF_SECONDS, delay * 2)
                continue
            return consumer, dlq
        return None, None

    async def _commit(self, consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> None:
        """Only after every record below `offset` committed its transaction: a crash redelivers at most
        one batch, and the inbox makes that harmless. A commit refused because a rebalance moved the
        partition is the same case: its new owner redelivers, nothing is lost."""
        try:
            await consumer.commit({tp: offset})
        except (CommitFailedError, IllegalStateError) as exc:
            log.warning("offset_commit_refused", handler=self._sub.name, error=type(exc).__name__)

    async def _process(self, record: ConsumerRecord[bytes, bytes]) -> bool:
        """Handle one record; False only when stopping interrupted it (its offset must not be committed)."""
        try:
            event = Envelope.from_bytes(record.value or b"")
        except ValueError as exc:
            await self._dead_letter(record, f"unparseable envelope: {type(exc).__name__}")
            HANDLED.labels(self._sub.name, "dead_letter").inc()
            return True
        bound = structlog.contextvars.bound_contextvars(
            correlation_id=event.correlation_id, event_id=str(event.event_id), event_type=event.event_type
        )
        with bound:
            attempt = 0  # failures caused by the message itself
            outage = 0  # failures of what the handler depends on (database, mail server): not the message's fault
            while True:
                try:
                    done = await handle_once(self._pool, self._sub.name, event, record.topic, self._sub.handle)
                except UnreadableEvent as exc:
                    # unknown type, a version too new, invalid data: no retry can make it readable
                    await self._dead_letter(record, f"unreadable event: {exc.reason}")
                    HANDLED.labels(self._sub.name, "dead_letter").inc()
                    return True
                except Exception as exc:  # noqa: BLE001 - classified below
                    if self._sub.is_transient(exc):
                        self.last_progress = time.monotonic()  # alive and waiting on purpose
                        if self.retrying_since is None:
                            self.retrying_since = self.last_progress
                        self.dependency_retries += 1
                        DEPENDENCY_RETRIES.labels(self._sub.name).inc()
                        outage += 1
                        delay = min(MAX_OUTAGE_BACKOFF_SECONDS, self._backoff * 2 ** min(outage, 10))
                        log.warning(
                            "handler_dependency_down", handler=self._sub.name, error=type(exc).__name__, retry_in=delay
                        )
                        if await self._stopped_within(delay):
                            return False
                        continue
                    attempt += 1
                    log.warning("handler_failed", handler=self._sub.name, attempt=attempt, error=type(exc).__name__)
                    if attempt >= self._max_attempts:
                        await self._dead_letter(record, _describe(exc))
                        HANDLED.labels(self._sub.name, "dead_letter").inc()
                        return True
                    await asyncio.sleep(self._backoff * attempt)
                    continue
                HANDLED.labels(self._sub.name, "handled" if done else "duplicate").inc()
                if not done:
                    log.info("duplicate_event_skipped", handler=self._sub.name)
                return True

    async def _stopped_within(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        return self._stopping.is_set()

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], error: str) -> None:
        if self._dlq is None:
            raise RuntimeError("dead-letter producer not started")
        headers = [
            *(record.headers or ()),
            ("dlq.original_topic", record.topic.encode()),
            ("dlq.original_partition", str(record.partition).encode()),
            ("dlq.original_offset", str(record.offset).encode()),
            ("dlq.handler", self._sub.name.encode()),
            ("dlq.error", error.encode()[:1000]),
        ]
        await self._dlq.send_and_wait(dlq_topic(record.topic), value=record.value, key=record.key, headers=headers)
        log.error(
            "event_dead_lettered",
            handler=self._sub.name,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            error=error,
        )


def _describe(exc: BaseException) -> str:
    """Exception type and the innermost frame: enough to debug, and no message text that could carry data."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}{where}"
