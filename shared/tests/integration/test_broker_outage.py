"""Kill -9 the Kafka broker under a running relay, restart it: the relay recovers and delivers everything.

Uses a throwaway broker of its own (started by devstack), so the shared broker of the test run stays up.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from paht_shared import outbox
from paht_shared.envelope import Envelope
from paht_shared.kafka import ensure_topics
from paht_shared.testing.kafka import read_all, wait_until
from paht_shared.testing.ports import free_port

ROOT = Path(__file__).resolve().parents[3]
BROKER = "kafka-outage-test"


def devstack(infra_dir: Path, *args: str) -> None:
    env = {**os.environ, "PAHT_INFRA_DIR": str(infra_dir)}
    subprocess.run(
        [sys.executable, str(ROOT / "deploy/devstack.py"), *args], check=True, env=env, stdout=subprocess.DEVNULL
    )


@pytest.fixture
def broker(infra_dir: Path) -> Iterator[tuple[str, list[str]]]:
    port, controller = str(free_port()), str(free_port())
    args = ["broker", BROKER, port, controller]
    devstack(infra_dir, *args)
    yield f"127.0.0.1:{port}", args
    devstack(infra_dir, "stop", BROKER)


async def add_events(pool: asyncpg.Pool, topic: str, first: int, count: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        for n in range(first, first + count):
            ev = Envelope(event_type="test.outage.v1", producer="test", correlation_id=f"c{n}", data={"n": n})
            await outbox.add(conn, topic, ev, key=f"k{n % 10}")


async def pending(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"))


async def test_relay_survives_broker_crash_and_delivers_after_restart(
    db_pool: asyncpg.Pool,
    admin_dsn: str,
    test_schema: str,
    infra_dir: Path,
    tmp_path: Path,
    broker: tuple[str, list[str]],
) -> None:
    """Events written while the broker is dead wait in the outbox; a recreated producer sends them all."""
    bootstrap, broker_args = broker
    topic = f"outage.{uuid.uuid4().hex[:8]}.v1"
    await ensure_topics(bootstrap, [topic], 2)
    relay_log = tmp_path / "relay.log"
    with relay_log.open("wb") as out:
        relay = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "paht_shared",
                "relay",
                "--dsn",
                admin_dsn,
                "--schema",
                test_schema,
                "--bootstrap",
                bootstrap,
                "--send-timeout",
                "3",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        await add_events(db_pool, topic, 0, 100)

        async def drained() -> bool:
            return await pending(db_pool) == 0

        await wait_until(drained, 60)

        devstack(infra_dir, "kill", BROKER)
        await add_events(db_pool, topic, 100, 100)
        await asyncio.sleep(8)  # the relay tries, times out, throws its producer away, tries again
        assert await pending(db_pool) == 100, "nothing can be published while the broker is dead"

        devstack(infra_dir, *broker_args)  # same data folder: the records sent before the crash are kept
        await wait_until(drained, 90)
    finally:
        relay.send_signal(signal.SIGTERM)
        relay.wait(20)

    delivered = {Envelope.from_bytes(r.value).data["n"] for r in await read_all(bootstrap, topic)}
    assert delivered == set(range(200))
    log = relay_log.read_text()
    assert "outbox_batch_failed" in log  # the failure path really ran
    # the broker's outage is not the rows' fault: no attempt counted towards parking them
    assert await db_pool.fetchval("SELECT count(*) FROM outbox WHERE attempts > 0 OR parked_at IS NOT NULL") == 0
