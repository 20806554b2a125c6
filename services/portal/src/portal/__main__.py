"""python -m portal api|migrate"""

from __future__ import annotations

from paht_shared.runtime import run_http, service_main
from portal.app import build_app
from portal.config import Settings


def main() -> None:
    settings = Settings()
    service_main("portal", settings, {"api": lambda: run_http(build_app(settings), settings)})


if __name__ == "__main__":
    main()
