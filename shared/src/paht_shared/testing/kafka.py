"""Reading a topic from the start, for tests that count what really reached the broker."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from paht_shared.envelope import Envelope
from paht_shared.kafka import make_producer, topic_partitions


async def read_all(bootstrap: str, topic: str, timeout: float = 20.0) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record currently in `topic` (all partitions, offsets 0..end), without a consumer group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        partitions = await topic_partitions(bootstrap, topic)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord[bytes, bytes]] = []
        deadline = time.monotonic() + timeout
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {topic} to its end")
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def wait_until(predicate: object, timeout: float, interval: float = 0.2) -> None:
    """Poll an async predicate until it is true or the time is up (then fail loudly)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(interval)
    raise TimeoutError("condition not met in time")


async def publish(
    bootstrap: str, topic: str, values: list[bytes], key: bytes = b"k", headers: list[tuple[str, bytes]] | None = None
) -> None:
    """Put raw records on a topic, in order, as a misbehaving or foreign producer would."""
    producer = make_producer(bootstrap, "paht-test-publisher")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=key, headers=headers or [])
    finally:
        await producer.stop()


class Worker(Protocol):
    def stop(self) -> None: ...

    async def run(self) -> None: ...


@contextlib.asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[None]:
    """Run a consumer or relay in the background for the block; stop it cleanly afterwards."""
    task = asyncio.create_task(worker.run())
    try:
        yield
    finally:
        worker.stop()
        await task


async def until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 60, interval: float = 0.3) -> Any:
    """The first truthy answer of `check`, polled until `timeout`; AssertionError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(interval)
    raise AssertionError(f"never saw {what}")


async def records_for(bootstrap: str, topic: str, key: str) -> list[Envelope]:
    """The envelopes on `topic` under `key` (a report's id): what really reached the broker about it."""
    return [Envelope.from_bytes(r.value or b"") for r in await read_all(bootstrap, topic) if r.key == key.encode()]
