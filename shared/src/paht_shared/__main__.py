"""Operator commands:

python -m paht_shared relay --dsn DSN --schema SCHEMA --bootstrap HOST:PORT
    an outbox relay for any schema (the kill-and-restart tests use it; handy to drain an outbox by hand)
python -m paht_shared replay-dlq --bootstrap HOST:PORT --topic TOPIC
    send the dead letters of TOPIC back to it, once the cause is fixed
"""

from __future__ import annotations

import argparse
import asyncio

from paht_shared.db import create_pool
from paht_shared.dlq import replay_dead_letters
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


async def replay(args: argparse.Namespace) -> None:
    count = await replay_dead_letters(args.bootstrap, args.topic)
    print(f"replayed {count} dead letter(s) to {args.topic}")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m paht_shared", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["relay", "replay-dlq"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--dsn")
    parser.add_argument("--schema")
    parser.add_argument("--topic")
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--send-timeout", type=float, default=30.0)
    args = parser.parse_args()
    configure_logging(f"paht-{args.command}")
    if args.command == "relay":
        if not (args.dsn and args.schema):
            parser.error("relay needs --dsn and --schema")
        asyncio.run(relay(args))
    else:
        if not args.topic:
            parser.error("replay-dlq needs --topic")
        asyncio.run(replay(args))


if __name__ == "__main__":
    main()
