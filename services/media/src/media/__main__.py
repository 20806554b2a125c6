"""python -m media api"""

from __future__ import annotations

import sys

from media.app import build_app
from media.config import Settings
from paht_shared.logging import configure_logging
from paht_shared.runtime import run_http


def main() -> None:
    kind = sys.argv[1] if len(sys.argv) > 1 else "api"
    settings = Settings()
    configure_logging(f"media-{kind}", settings.log_level, settings.log_json)
    if kind == "api":
        run_http(build_app(settings), settings)
    else:
        raise SystemExit("usage: python -m media api")


if __name__ == "__main__":
    main()
