"""python -m intake api|relay|consume"""

from __future__ import annotations

import asyncio
import sys

from intake.app import build_app
from intake.config import Settings
from intake.consumers import SUBSCRIPTIONS
from paht_shared.logging import configure_logging
from paht_shared.runtime import run_consumers, run_http, run_relay


def main() -> None:
    kind = sys.argv[1] if len(sys.argv) > 1 else "api"
    settings = Settings()  # required keys come from the environment
    configure_logging(f"intake-{kind}", settings.log_level, settings.log_json)
    if kind == "api":
        run_http(build_app(settings), settings)
    elif kind == "relay":
        asyncio.run(run_relay(settings, settings.db_schema))
    elif kind == "consume":
        asyncio.run(run_consumers(settings, settings.db_schema, SUBSCRIPTIONS))
    else:
        raise SystemExit("usage: python -m intake api|relay|consume")


if __name__ == "__main__":
    main()
