"""python -m media api|relay|worker|migrate"""

from __future__ import annotations

import asyncio

from media.app import build_app
from media.config import Settings
from paht_shared.runtime import run_http, run_relay, service_main


def worker(settings: Settings) -> None:
    # Imported here: only the worker loads the decoders (Pillow, PyAV); the api never parses a file's contents.
    from media.worker import run_worker  # noqa: PLC0415 - see above

    asyncio.run(run_worker(settings))


def main() -> None:
    settings = Settings()
    service_main(
        "media",
        settings,
        {
            "api": lambda: run_http(build_app(settings), settings),
            "relay": lambda: asyncio.run(run_relay(settings, settings.db_schema)),
            "worker": lambda: worker(settings),
        },
    )


if __name__ == "__main__":
    main()
