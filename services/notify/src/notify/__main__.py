"""python -m notify api|relay|consume|sink"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from notify.app import build_app
from notify.config import Settings
from notify.mailer import SmtpMailer
from notify.service import StatusNotifier
from notify.sink import serve
from paht_shared.consumer import Subscription
from paht_shared.logging import configure_logging
from paht_shared.runtime import run_consumers, run_http, run_relay

REPORT_STATUS_CHANGED = "report.status_changed.v1"


def main() -> None:
    kind = sys.argv[1] if len(sys.argv) > 1 else "api"
    settings = Settings()
    configure_logging(f"notify-{kind}", settings.log_level, settings.log_json)
    if kind == "api":
        run_http(build_app(settings), settings)
    elif kind == "relay":
        asyncio.run(run_relay(settings, settings.db_schema))
    elif kind == "consume":
        mailer = SmtpMailer(settings.smtp_host, settings.smtp_port, settings.smtp_timeout_seconds)
        notifier = StatusNotifier(settings, mailer)
        asyncio.run(
            run_consumers(
                settings, settings.db_schema, [Subscription("notify.agency_email", (REPORT_STATUS_CHANGED,), notifier)]
            )
        )
    elif kind == "sink":
        asyncio.run(serve(settings.sink_host, settings.sink_port, Path(settings.sink_dir)))
    else:
        raise SystemExit("usage: python -m notify api|relay|consume|sink")


if __name__ == "__main__":
    main()
