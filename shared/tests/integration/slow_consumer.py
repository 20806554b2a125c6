"""A consumer process for the crash tests, run as `python slow_consumer.py DSN SCHEMA BOOTSTRAP TOPIC GROUP HANDLER`.

Its handler records each event in `effects` and takes its time about it, so the runner's offset commit,
which follows the whole batch, comes long after the first database commits: a kill -9 in between leaves
handled events whose offsets were never committed. The production runner is used unchanged.
"""

from __future__ import annotations

import asyncio
import sys

import asyncpg

from paht_shared.consumer import ConsumerRunner, Subscription
from paht_shared.db import create_pool
from paht_shared.envelope import Envelope
from paht_shared.logging import configure_logging
from paht_shared.runtime import run_until_signalled

HANDLE_SECONDS = 0.05


async def record_slowly(event: Envelope, conn: asyncpg.Connection) -> None:
    await conn.execute("INSERT INTO effects (event_id) VALUES ($1)", event.event_id)
    await asyncio.sleep(HANDLE_SECONDS)


async def main(dsn: str, schema: str, bootstrap: str, topic: str, group: str, handler: str) -> None:
    pool = await create_pool(dsn, schema, min_size=1, max_size=2)
    try:
        runner = ConsumerRunner(pool, Subscription(handler, (topic,), record_slowly), bootstrap, group, "slow-consumer")
        await run_until_signalled([runner])
    finally:
        await pool.close()


if __name__ == "__main__":
    configure_logging("slow-consumer")
    asyncio.run(main(*sys.argv[1:7]))
