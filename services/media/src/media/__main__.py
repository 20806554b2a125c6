"""python -m media api|migrate"""

from __future__ import annotations

from media.app import build_app
from media.config import Settings
from paht_shared.runtime import run_http, service_main


def main() -> None:
    settings = Settings()
    service_main("media", settings, {"api": lambda: run_http(build_app(settings), settings)})


if __name__ == "__main__":
    main()
