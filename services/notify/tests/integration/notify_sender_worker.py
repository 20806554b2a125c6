"""One notify sender process on a test's own schema and SMTP server (started by test_crash_resend).

python notify_sender_worker.py DSN SCHEMA SMTP_PORT ABANDONED_SECONDS
"""

from __future__ import annotations

import asyncio
import sys

from notify.channels import EmailChannel
from notify.config import Settings
from notify.mailer import SmtpPool
from notify.sender import DeliverySender
from paht_shared.db import create_pool
from paht_shared.logging import configure_logging
from paht_shared.runtime import run_until_signalled


async def main(dsn: str, schema: str, smtp_port: int, abandoned_seconds: float) -> None:
    settings = Settings(
        database_url=dsn, db_schema=schema, sender_abandoned_seconds=abandoned_seconds, sender_poll_seconds=0.1
    )
    pool = await create_pool(dsn, schema, min_size=1, max_size=2)
    try:
        channels = {"email": EmailChannel(SmtpPool("127.0.0.1", smtp_port, 5, 1), "no-reply@paht.example")}
        await run_until_signalled([DeliverySender(pool, channels, settings)])
    finally:
        await pool.close()


if __name__ == "__main__":
    configure_logging("notify-sender-test")
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
