"""Operator commands for the deliveries a sender could not settle on its own.

python -m notify deliveries               list `unknown` (the sender died mid-send: maybe sent) and `failed`
python -m notify deliveries --resend ID…  a person checked (e.g. with the agency): queue these once more
"""

from __future__ import annotations

import argparse
import uuid

import asyncpg

from notify import repository
from notify.config import Settings


async def deliveries(settings: Settings, argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m notify deliveries", description=__doc__)
    parser.add_argument("--resend", nargs="+", type=uuid.UUID, metavar="ID", help="queue these deliveries again")
    args = parser.parse_args(argv)
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": settings.db_schema})
    try:
        if args.resend:
            queued = await repository.send_again(conn, list(args.resend))
            print(f"queued {queued} of {len(args.resend)} delivery(ies) for the sender")
            return
        for row in await repository.needing_a_person(conn):
            print(
                f"{row['id']}  {row['status']:<8} report {row['report_id']}  to {row['recipient']}  "
                f"attempts {row['attempts']}  {row['last_error'] or ''}  ({row['created_at']:%Y-%m-%d %H:%M})"
            )
    finally:
        await conn.close()
