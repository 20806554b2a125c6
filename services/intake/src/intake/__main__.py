"""python -m intake api|relay|consume|smtp|migrate"""

from __future__ import annotations

import asyncio

from intake.app import build_app, make_vault
from intake.config import Settings
from intake.consumers import subscriptions
from intake.mail.server import serve as serve_mail
from paht_shared.runtime import run_consumers, run_http, run_relay, service_main


def main() -> None:
    settings = Settings()  # required keys come from the environment
    service_main(
        "intake",
        settings,
        {
            "api": lambda: run_http(build_app(settings), settings),
            "relay": lambda: asyncio.run(run_relay(settings, settings.db_schema)),
            "consume": lambda: asyncio.run(
                run_consumers(settings, settings.db_schema, subscriptions(make_vault(settings)))
            ),
            # inbound email: mail to the PAHT address becomes a report (EMAIL.md)
            "smtp": lambda: asyncio.run(serve_mail(settings)),
        },
    )


if __name__ == "__main__":
    main()
