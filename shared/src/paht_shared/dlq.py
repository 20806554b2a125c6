"""Re-drive dead letters once the cause is fixed: each record goes back to its original topic.

The inbox makes a replay safe (an event that was in fact handled has no second effect). A consumer group
remembers what was replayed, so running the replay again only sends letters that arrived since.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer

from paht_shared.consumer import dlq_topic
from paht_shared.kafka import make_producer, topic_partitions

REPLAY_GROUP = "paht.dlq-replay"


async def replay_dead_letters(bootstrap: str, topic: str, group_id: str = REPLAY_GROUP) -> int:
    """Republish every not-yet-replayed record of `<topic>.dlq` to `topic`; returns how many."""
    source = dlq_topic(topic)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    producer = make_producer(bootstrap, "paht-dlq-replay")
    await consumer.start()
    await producer.start()
    replayed = 0
    try:
        partitions = await topic_partitions(bootstrap, source)
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)  # replay what is there now, not what arrives meanwhile
        for tp in partitions:
            while await consumer.position(tp) < ends[tp]:
                records = (await consumer.getmany(tp, timeout_ms=1000)).get(tp, [])
                for record in records:
                    if record.offset >= ends[tp]:
                        break
                    headers = [(k, v) for k, v in record.headers if not k.startswith("dlq.")]
                    headers.append(("dlq.replayed_from", f"{source}:{record.partition}:{record.offset}".encode()))
                    await producer.send_and_wait(topic, value=record.value, key=record.key, headers=headers)
                    await consumer.commit({tp: record.offset + 1})
                    replayed += 1
    finally:
        await producer.stop()
        await consumer.stop()
    return replayed
