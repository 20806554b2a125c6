"""python -m paht_shared relay --dsn DSN --schema SCHEMA --bootstrap HOST:PORT

Runs an outbox relay for any schema: used by the kill-and-restart tests, and handy for draining an
outbox by hand during an incident.
"""

from __future__ import annotations

import argparse
import asyncio

from paht_shared.db import create_pool
from paht_shared.logging import configure_logging
from paht_shared.outbox import OutboxRelay
from paht_shared.runtime import run_until_signalled


async def relay(args: argparse.Namespace) -> None:
    pool = await create_pool(args.dsn, args.schema, min_size=2, max_size=4)
    try:
        worker = OutboxRelay(
            pool,
            args.schema,
            args.bootstrap,
            "paht-relay",
            batch_size=args.batch_size,
            poll_seconds=0.5,
            send_timeout_seconds=args.send_timeout,
        )
        await run_until_signalled([worker])
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m paht_shared")
    parser.add_argument("command", choices=["relay"])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--schema", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--send-timeout", type=float, default=30.0)
    args = parser.parse_args()
    configure_logging("paht-relay")
    asyncio.run(relay(args))


if __name__ == "__main__":
    main()
