"""A consumer stuck retrying a dependency outage fails its /readyz; it passes again once the dependency is back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import asyncpg

from paht_shared.consumer import ConsumerRunner, Subscription, dlq_topic
from paht_shared.envelope import Envelope
from paht_shared.runtime import serve_worker_http
from paht_shared.settings import ServiceSettings
from paht_shared.testing.kafka import publish, read_all, running, wait_until
from paht_shared.testing.ports import free_port


async def readyz(client: aiohttp.ClientSession, port: int) -> tuple[int, dict[str, Any]]:
    async with client.get(f"http://127.0.0.1:{port}/readyz") as response:
        return response.status, await response.json()


async def test_consumer_retrying_a_dependency_too_long_fails_readyz_until_it_recovers(
    db_pool: asyncpg.Pool, kafka_bootstrap: str, new_topic: Callable[..., Awaitable[str]]
) -> None:
    """The loop keeps turning while it waits on purpose, yet the stuck partition shows as not ready."""
    topic = await new_topic()
    await db_pool.execute("CREATE TABLE effects (event_id uuid NOT NULL)")
    dependency_port = free_port()  # nothing listens there until the "outage" ends

    async def handle(event: Envelope, conn: asyncpg.Connection) -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", dependency_port)  # refused while it is down
        writer.close()
        await writer.wait_closed()
        await conn.execute("INSERT INTO effects (event_id) VALUES ($1)", event.event_id)

    runner = ConsumerRunner(
        db_pool,
        Subscription("test.readiness", (topic,), handle),
        kafka_bootstrap,
        group_id=f"g-{uuid.uuid4()}",
        client_id="readiness-test",
        retry_backoff_seconds=0.05,
    )
    settings = ServiceSettings(worker_http_port=free_port(), consumer_stuck_seconds=0.5)
    http = await serve_worker_http(settings, [runner])
    assert http is not None
    try:
        async with running(runner), aiohttp.ClientSession() as client:
            status, _ = await readyz(client, settings.worker_http_port)
            assert status == 200, "ready before anything failed"

            event = Envelope(event_type="test.readiness.v1", producer="test", correlation_id="c", data={})
            await publish(kafka_bootstrap, topic, [event.to_bytes()], key=b"r1")

            async def not_ready() -> bool:
                return (await readyz(client, settings.worker_http_port))[0] == 503

            await wait_until(not_ready, 60)
            _, body = await readyz(client, settings.worker_http_port)
            assert body["checks"] == {"workers": "ok", "consumers": "unavailable: ConsumerStuck"}
            assert runner.dependency_retries > 0, "the handler really failed on its dependency"
            assert await db_pool.fetchval("SELECT count(*) FROM effects") == 0

            dependency = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", dependency_port)
            try:

                async def ready() -> bool:
                    return (await readyz(client, settings.worker_http_port))[0] == 200

                await wait_until(ready, 60)
            finally:
                dependency.close()
                await dependency.wait_closed()
    finally:
        await http.cleanup()

    assert await db_pool.fetchval("SELECT count(*) FROM effects") == 1, "retried until it worked, handled once"
    assert await read_all(kafka_bootstrap, dlq_topic(topic)) == [], "an outage is not the message's fault"
