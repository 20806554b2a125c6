"""python -m routing api|relay|consume|load-reference"""

from __future__ import annotations

import asyncio
import sys

import asyncpg

from paht_shared.logging import configure_logging
from paht_shared.runtime import run_consumers, run_http, run_relay
from routing.app import build_app
from routing.config import Settings
from routing.consumers import subscriptions
from routing.service import load_reference, reference_file


async def load_reference_data(settings: Settings) -> None:
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": settings.db_schema})
    try:
        await load_reference(conn, reference_file())
    finally:
        await conn.close()


def main() -> None:
    kind = sys.argv[1] if len(sys.argv) > 1 else "api"
    settings = Settings()
    configure_logging(f"routing-{kind}", settings.log_level, settings.log_json)
    if kind == "api":
        run_http(build_app(settings), settings)
    elif kind == "relay":
        asyncio.run(run_relay(settings, settings.db_schema))
    elif kind == "consume":
        asyncio.run(run_consumers(settings, settings.db_schema, subscriptions(settings)))
    elif kind == "load-reference":
        asyncio.run(load_reference_data(settings))
    else:
        raise SystemExit("usage: python -m routing api|relay|consume|load-reference")


if __name__ == "__main__":
    main()
