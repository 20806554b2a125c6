"""Scale a consumer group out and in while events flow: partitions really move, nothing is lost or doubled.

Who holds which partition is read from the group coordinator (the broker's word, not the clients'), so
the test can require a moment when both consumers held partitions instead of hoping one happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

from paht_shared.consumer import ConsumerRunner, Handler, Subscription
from paht_shared.envelope import Envelope
from paht_shared.kafka import make_producer
from paht_shared.testing.kafka import wait_until

PARTITIONS = 6

Holdings = dict[str, frozenset[int]]  # client id -> partitions, in one stable generation of the group


@dataclass
class GroupWatcher:
    """Samples the coordinator's assignment of a group every `interval` seconds while it runs."""

    bootstrap: str
    group: str
    interval: float = 0.1
    samples: list[Holdings] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="group-watcher")
        await admin.start()
        try:
            while not stop.is_set():
                for response in await admin.describe_consumer_groups([self.group]):
                    for group in response.to_object()["groups"]:
                        if group["state"] == "Stable":  # mid-rebalance the old generation's plan is stale
                            self.samples.append(holdings(group["members"]))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.interval)
        finally:
            await admin.close()

    def latest(self) -> Holdings:
        return self.samples[-1] if self.samples else {}


def holdings(members: list[dict[str, object]]) -> Holdings:
    held: dict[str, frozenset[int]] = {}
    for member in members:
        raw = member["member_assignment"]
        assert isinstance(raw, bytes)
        assigned = ConsumerProtocolMemberAssignment.decode(raw).assignment if raw else []
        held[str(member["client_id"])] = frozenset(p for _topic, parts in assigned for p in parts)
    return held


def both_held(sample: Holdings) -> bool:
    return bool(sample.get("c1")) and bool(sample.get("c2"))


async def test_consumers_joining_and_leaving_a_group_lose_and_double_nothing(
    db_pool: asyncpg.Pool, kafka_bootstrap: str, new_topic: Callable[..., Awaitable[str]]
) -> None:
    """Scale out then in mid-stream: both consumers held and handled partitions at once; every event has one effect."""
    # no unique constraint: a second effect of the same event would show as a second row
    await db_pool.execute("CREATE TABLE effects (seq bigserial, event_id uuid NOT NULL, n int, consumer text)")
    topic = await new_topic(partitions=PARTITIONS)
    group = f"g-{uuid.uuid4()}"

    def effect_by(consumer: str) -> Handler:
        async def record(ev: Envelope, conn: asyncpg.Connection) -> None:
            await asyncio.sleep(0.002)
            await conn.execute(
                "INSERT INTO effects (event_id, n, consumer) VALUES ($1, $2, $3)", ev.event_id, ev.data["n"], consumer
            )

        return record

    def runner(consumer: str) -> ConsumerRunner:
        # one subscription name, so one group and one inbox; each handler only tags who did the work
        return ConsumerRunner(
            db_pool, Subscription("test.rebalance", (topic,), effect_by(consumer)), kafka_bootstrap, group, consumer
        )

    async def count(sql: str, *args: object) -> int:
        return int(await db_pool.fetchval(sql, *args))

    produced: list[int] = []
    producing, watching = asyncio.Event(), asyncio.Event()

    async def produce() -> None:
        """A steady stream across all partitions until told to stop, so every rebalance happens mid-stream."""
        producer = make_producer(kafka_bootstrap, "rebalance-test")
        await producer.start()
        try:
            while not producing.is_set():
                n = len(produced)
                event = Envelope(event_type="test.happened.v1", producer="test", correlation_id=f"c{n}", data={"n": n})
                await producer.send_and_wait(topic, event.to_bytes(), key=f"r{n % 60}".encode())
                produced.append(n)
                await asyncio.sleep(0.01)
        finally:
            await producer.stop()

    watcher = GroupWatcher(kafka_bootstrap, group)
    watch_task = asyncio.create_task(watcher.run(watching))
    produce_task = asyncio.create_task(produce())
    first, second = runner("c1"), runner("c2")
    first_task = asyncio.create_task(first.run())
    second_task: asyncio.Task[None] | None = None
    try:

        async def first_handling() -> bool:
            return await count("SELECT count(*) FROM effects") > 0

        await wait_until(first_handling, 30)
        second_task = asyncio.create_task(second.run())  # scale out: partitions move to the newcomer

        async def both_hold() -> bool:
            return both_held(watcher.latest())

        await wait_until(both_hold, 30)
        mark = await count("SELECT COALESCE(max(seq), 0) FROM effects")

        async def both_handle_after_mark() -> bool:
            by = await db_pool.fetch("SELECT DISTINCT consumer FROM effects WHERE seq > $1", mark)
            return {r["consumer"] for r in by} == {"c1", "c2"}

        await wait_until(both_handle_after_mark, 30)
        first.stop()  # scale in: its partitions move back
        await first_task

        async def second_holds_all() -> bool:
            return watcher.latest() == {"c2": frozenset(range(PARTITIONS))}

        await wait_until(second_holds_all, 30)
        producing.set()
        await produce_task

        async def all_handled() -> bool:
            return await count("SELECT count(*) FROM effects") >= len(produced)

        await wait_until(all_handled, 60)
        await asyncio.sleep(1)  # a duplicate effect would arrive in this window
    finally:
        producing.set()
        first.stop()
        second.stop()
        await asyncio.gather(produce_task, first_task, *([second_task] if second_task else []))
        watching.set()
        await watch_task

    shared = [s for s in watcher.samples if both_held(s)]
    assert shared, "the second consumer never held partitions while the first held any"
    assert all(not (s["c1"] & s["c2"]) for s in shared), "a partition was assigned to both at once"
    assert await count("SELECT count(*) FROM effects") == len(produced)
    assert await count("SELECT count(DISTINCT event_id) FROM effects") == len(produced)
    assert {r["n"] for r in await db_pool.fetch("SELECT n FROM effects")} == set(produced)
    assert await count("SELECT count(*) FROM effects WHERE consumer = 'c2' AND seq > $1", mark) > 0
