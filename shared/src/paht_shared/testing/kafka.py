"""Reading a topic from the start, for tests that count what really reached the broker."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from paht_shared.kafka import topic_partitions


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
