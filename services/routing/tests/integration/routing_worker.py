"""One routing assignment process on a test's own topic and consumer group (started twice by test_scale).

python routing_worker.py DSN SCHEMA BOOTSTRAP TOPIC GROUP
"""

from __future__ import annotations

import asyncio
import sys

from paht_shared.consumer import ConsumerRunner, Subscription
from paht_shared.db import create_pool
from paht_shared.logging import configure_logging
from paht_shared.runtime import run_until_signalled
from routing.config import Settings
from routing.consumers import ASSIGN, subscriptions


async def main(dsn: str, schema: str, bootstrap: str, topic: str, group: str) -> None:
    settings = Settings(database_url=dsn, db_schema=schema, kafka_bootstrap=bootstrap)
    (assign, _citizen) = subscriptions(settings)
    pool = await create_pool(dsn, schema, min_size=1, max_size=4)
    try:
        runner = ConsumerRunner(
            pool, Subscription(ASSIGN, (topic,), assign.handle), bootstrap, group_id=group, client_id=f"scale-{group}"
        )
        await run_until_signalled([runner])  # no worker HTTP port: two of these run side by side
    finally:
        await pool.close()


if __name__ == "__main__":
    configure_logging("routing-scale-test")
    asyncio.run(main(*sys.argv[1:6]))
