"""python -m routing api|relay|consume|load-reference|migrate|create-staff|connector"""

from __future__ import annotations

import asyncio
import os
import sys

from paht_shared.runtime import run_consumers, run_http, run_relay, service_main
from routing.accounts import create_staff_command
from routing.app import build_app
from routing.config import Settings
from routing.connector import main as connector_main
from routing.consumers import subscriptions
from routing.deadlines import deadline_watch
from routing.directory import load_reference_data


def main() -> None:
    settings = Settings()
    service_main(
        "routing",
        settings,
        {
            "api": lambda: run_http(build_app(settings), settings),
            "relay": lambda: asyncio.run(run_relay(settings, settings.db_schema)),
            "consume": lambda: asyncio.run(
                run_consumers(settings, settings.db_schema, subscriptions(settings), workers=deadline_watch(settings))
            ),
            "load-reference": lambda: asyncio.run(load_reference_data(settings)),
            "create-staff": lambda: create_staff_command(settings, sys.argv[2:], os.environ),
            # an agency's own process, with its own settings (CONNECTOR_*): see the routing README
            "connector": connector_main,
        },
    )


if __name__ == "__main__":
    main()
