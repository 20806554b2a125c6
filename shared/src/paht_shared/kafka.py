"""Kafka clients with every option set on purpose: aiokafka's defaults (acks=1, auto-commit) are wrong for us."""

from __future__ import annotations

import contextlib
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError


def make_producer(bootstrap: str, client_id: str, request_timeout_ms: int = 30000) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,  # retries inside the producer cannot duplicate or reorder
        linger_ms=5,
        request_timeout_ms=request_timeout_ms,
        retry_backoff_ms=200,
        max_batch_size=256 * 1024,
    )


def make_consumer(bootstrap: str, group_id: str, topics: list[str], client_id: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,  # offsets are committed after the handler's transaction commits
        auto_offset_reset="earliest",  # a new group must not skip events published before it joined
        isolation_level="read_committed",
        max_poll_records=200,
        session_timeout_ms=10000,
        heartbeat_interval_ms=3000,
        max_poll_interval_ms=300000,
    )


async def ensure_topics(bootstrap: str, names: list[str], partitions: int, replication: int = 1) -> list[str]:
    """Create the missing topics; return the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="paht-bootstrap")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in dict.fromkeys(names) if n not in existing]
        if missing:
            # another bootstrap may race us: the topic is there, which is all we need
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(name=n, num_partitions=partitions, replication_factor=replication) for n in missing]
                )
        return missing
    finally:
        await admin.close()


async def describe_partitions(bootstrap: str, topic: str, request_timeout_ms: int = 40000) -> list[dict[str, Any]]:
    """The partitions of one topic as the cluster describes them now: partition, leader, replicas, isr."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="paht-describe", request_timeout_ms=request_timeout_ms
    )
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if described["error_code"]:
        raise LookupError(f"topic {topic} not found (error {described['error_code']})")
    partitions: list[dict[str, Any]] = described["partitions"]
    return partitions


async def topic_partitions(bootstrap: str, topic: str) -> list[TopicPartition]:
    """The partitions of one topic, from the broker (a consumer without a group has no metadata for it)."""
    return sorted(TopicPartition(topic, p["partition"]) for p in await describe_partitions(bootstrap, topic))
