"""PostgreSQL stopped in immediate mode under load, started again: nothing acknowledged is lost, nothing is
published or handled twice, nothing is dead-lettered, and an API answers 503 meanwhile.

Uses a throwaway server of its own (paht_shared.testing.postgres), so the shared one of the test run stays up.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from paht_shared import outbox
from paht_shared.consumer import ConsumerRunner, Subscription, dlq_topic
from paht_shared.db import create_pool
from paht_shared.envelope import Envelope
from paht_shared.failures import is_dependency_failure
from paht_shared.migrations import apply_migrations
from paht_shared.outbox import OutboxRelay
from paht_shared.runtime import DB_POOL, service_app
from paht_shared.settings import ServiceSettings
from paht_shared.testing.kafka import read_all, running, wait_until
from paht_shared.testing.ports import free_port
from paht_shared.testing.postgres import ThrowawayPostgres
from paht_shared.web import UNAVAILABLE_MESSAGE

RATE = 100  # commits per second
BEFORE, OUTAGE, AFTER = 3.0, 5.0, 3.0  # seconds of load before the stop, down, after the start


@pytest.fixture(scope="module")
def postgres(infra_dir: Path) -> Iterator[ThrowawayPostgres]:
    with ThrowawayPostgres(infra_dir) as server:  # synchronous_commit on, fsync off
        yield server


async def make_schema(dsn: str) -> str:
    schema = f"restart_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"CREATE SCHEMA {schema}")
        await apply_migrations(dsn, schema, None, conn=conn)
        # `changes` stands for the state a service changes together with its event
        await conn.execute(f"CREATE TABLE {schema}.changes (n int PRIMARY KEY)")
        # deliberately no unique constraint: a second effect of one event would show as a second row
        await conn.execute(f"CREATE TABLE {schema}.effects (event_id uuid NOT NULL, n int NOT NULL)")
    finally:
        await conn.close()
    return schema


class Load:
    """Commits a state change with its outbox event at a steady rate; remembers what was acknowledged."""

    def __init__(self, pool: asyncpg.Pool, topic: str) -> None:
        self._pool = pool
        self._topic = topic
        self.acknowledged: dict[int, uuid.UUID] = {}  # n -> event id, for every COMMIT that returned
        self.refused: collections.Counter[str] = collections.Counter()  # error type -> commits that failed

    async def run(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        n, start = 0, loop.time()
        while loop.time() - start < seconds:
            event = Envelope(event_type="test.restart.v1", producer="test", correlation_id=f"c{n}", data={"n": n})
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    await conn.execute("INSERT INTO changes (n) VALUES ($1)", n)
                    await outbox.add(conn, self._topic, event, key=f"r{n % 20}")
            except Exception as exc:
                if not is_dependency_failure(exc):
                    raise  # a bug, or a failure wrongly classified: the test must see it
                self.refused[type(exc).__name__] += 1  # not acknowledged (a lost COMMIT reply: outcome unknown)
            else:
                self.acknowledged[n] = event.event_id
            n += 1
            await asyncio.sleep(max(0.0, start + n / RATE - loop.time()))


async def record_effect(event: Envelope, conn: asyncpg.Connection) -> None:
    # Slower than the load, so records are in flight (and transactions open) when PostgreSQL stops.
    await conn.execute("SELECT pg_sleep(0.02)")
    await conn.execute("INSERT INTO effects (event_id, n) VALUES ($1, $2)", event.event_id, event.data["n"])


async def test_relay_and_consumer_keep_their_guarantees_across_an_immediate_postgres_restart(
    postgres: ThrowawayPostgres, kafka_bootstrap: str, new_topic: Callable[..., Awaitable[str]]
) -> None:
    """Every acknowledged commit survives; every committed event is published and has exactly one effect."""
    topic = await new_topic(partitions=3)
    schema = await make_schema(postgres.dsn)
    pools = [await create_pool(postgres.dsn, schema, 1, 4, connect_timeout=2, acquire_timeout=3) for _ in range(3)]
    load_pool, relay_pool, consumer_pool = pools
    relay = OutboxRelay(relay_pool, schema, kafka_bootstrap, "restart-relay", poll_seconds=0.2, send_timeout_seconds=10)
    misclassified: list[str] = []

    def is_transient(exc: BaseException) -> bool:
        transient = is_dependency_failure(exc)
        if not transient:
            misclassified.append(type(exc).__name__)
        return transient

    runner = ConsumerRunner(
        consumer_pool,
        Subscription("test.restart", (topic,), record_effect, is_transient=is_transient),
        kafka_bootstrap,
        group_id=f"g-{uuid.uuid4()}",
        client_id="restart-test",
        retry_backoff_seconds=0.1,
    )
    load = Load(load_pool, topic)
    try:
        async with running(relay), running(runner):
            loading = asyncio.create_task(load.run(BEFORE + OUTAGE + AFTER))
            await asyncio.sleep(BEFORE)
            await asyncio.to_thread(postgres.stop, "immediate")
            acknowledged_at_stop = len(load.acknowledged)
            await asyncio.sleep(OUTAGE)
            assert not postgres.is_running()
            refused_while_down = sum(load.refused.values())
            await asyncio.to_thread(postgres.start)
            await loading

            async def all_handled() -> bool:
                async with consumer_pool.acquire() as conn:
                    return bool(
                        await conn.fetchval(
                            "SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL) = 0 "
                            "AND (SELECT count(DISTINCT event_id) FROM effects) = (SELECT count(*) FROM outbox)"
                        )
                    )

            # On a timeout the assertions below say what is missing or doubled.
            with contextlib.suppress(TimeoutError):
                await wait_until(all_handled, 120, interval=0.5)
            await asyncio.sleep(1)  # would a late duplicate add a second effect? give it the chance
        outbox_rows = await load_pool.fetch("SELECT event_id, published_at, attempts, parked_at FROM outbox")
        changes = {r["n"] for r in await load_pool.fetch("SELECT n FROM changes")}
        effects = collections.Counter(r["event_id"] for r in await load_pool.fetch("SELECT event_id FROM effects"))
    finally:
        for pool in pools:
            await pool.close()

    # The fault happened while work was in flight.
    assert acknowledged_at_stop > 0, "commits were acknowledged before the stop"
    assert refused_while_down > 0, "commits were refused while it was down"
    assert len(load.acknowledged) > acknowledged_at_stop, "commits were acknowledged again after the start"
    assert REGISTRY.get_sample_value("paht_outbox_batch_failures_total", {"schema": schema}), "the relay saw it"
    assert runner.dependency_retries > 0, "the consumer retried through the outage"
    print(f"acknowledged {len(load.acknowledged)}, refused {dict(load.refused)}, retries {runner.dependency_retries}")

    # What survived: every acknowledged commit, with its state change.
    committed_ids = {r["event_id"] for r in outbox_rows}
    lost = [n for n, event_id in load.acknowledged.items() if event_id not in committed_ids or n not in changes]
    assert lost == [], f"{len(lost)} of {len(load.acknowledged)} acknowledged commits lost"
    # Published, each committed event; consumed, each exactly once; nothing set aside or dead-lettered.
    assert [r["event_id"] for r in outbox_rows if r["published_at"] is None or r["parked_at"] is not None] == []
    on_broker = {Envelope.from_bytes(r.value).event_id for r in await read_all(kafka_bootstrap, topic)}
    assert len(on_broker - committed_ids) == 0, "published events whose commit the database no longer has"
    assert len(committed_ids - on_broker) == 0, "committed events never published"
    assert len(committed_ids - set(effects)) == 0, "events consumed without a lasting effect"
    assert [event_id for event_id, count in effects.items() if count != 1] == [], "an event with a second effect"
    assert await read_all(kafka_bootstrap, dlq_topic(topic)) == []
    assert misclassified == [], "every failure of the restart is a dependency failure, retried"


async def probe(request: web.Request) -> web.Response:
    """A handler as the services write them: a pooled connection, a transaction."""
    async with request.app[DB_POOL].acquire() as conn, conn.transaction():
        return web.json_response({"tables": await conn.fetchval("SELECT count(*) FROM pg_class")})


async def test_api_answers_503_with_retry_after_while_postgres_is_down(postgres: ThrowawayPostgres) -> None:
    """Never a 500 during the outage: 503, Retry-After and the service_unavailable error; 200 once it is back."""
    settings = ServiceSettings(database_url=postgres.dsn, http_port=free_port())
    app = service_app(settings, uses_kafka=False, has_outbox=False)
    app.router.add_get("/probe", probe)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", settings.http_port).start()
    url = f"http://127.0.0.1:{settings.http_port}"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as client:
            async with client.get(f"{url}/probe") as response:
                assert response.status == 200

            await asyncio.to_thread(postgres.stop, "immediate")
            try:
                with pytest.raises(ConnectionRefusedError):  # the server really is down
                    await asyncpg.connect(postgres.dsn)
                answers = []
                for _ in range(5):  # the pool's connections died with the server, then connecting is refused
                    async with client.get(f"{url}/probe") as response:
                        answers.append((response.status, response.headers.get("Retry-After"), await response.json()))
                async with client.get(f"{url}/readyz") as response:
                    ready_status = response.status
            finally:
                await asyncio.to_thread(postgres.start)

            unavailable = {"errors": [{"field": None, "code": "service_unavailable", "message": UNAVAILABLE_MESSAGE}]}
            assert answers == [(503, "5", unavailable)] * 5
            assert ready_status == 503

            async def answers_again() -> bool:
                async with client.get(f"{url}/probe") as response:
                    return response.status == 200

            await wait_until(answers_again, 30)
    finally:
        await runner.cleanup()
