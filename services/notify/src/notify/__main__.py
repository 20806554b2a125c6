"""python -m notify api|relay|consume|sink|gateway|deliveries|migrate"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from notify import gateway
from notify.app import build_app
from notify.config import Settings
from notify.consumers import senders, subscriptions
from notify.operator import deliveries
from notify.sink import serve
from paht_shared.runtime import run_consumers, run_http, run_relay, service_main


def main() -> None:
    settings = Settings()
    service_main(
        "notify",
        settings,
        {
            "api": lambda: run_http(build_app(settings), settings),
            "relay": lambda: asyncio.run(run_relay(settings, settings.db_schema)),
            "consume": lambda: asyncio.run(
                run_consumers(settings, settings.db_schema, subscriptions(settings), workers=senders(settings))
            ),
            "sink": lambda: asyncio.run(serve(settings.sink_host, settings.sink_port, Path(settings.sink_dir))),
            # the development SMS gateway and push webhook: records what it receives (.infra/gateway/*.jsonl)
            "gateway": lambda: asyncio.run(
                gateway.serve(
                    settings.gateway_host,
                    settings.gateway_port,
                    Path(settings.gateway_dir),
                    settings.sms_api_key,
                    settings.push_secret,
                    settings.gateway_fail_next,
                )
            ),
            "deliveries": lambda: asyncio.run(deliveries(settings, sys.argv[2:])),
        },
    )


if __name__ == "__main__":
    main()
