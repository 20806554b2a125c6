"""Agencies that chose a digest get one email per period instead of one per report: a worker of the consume
process that, at the start of each period, gathers what waited and records one delivery for it.

Hourly digests go at the top of each hour; twice-daily ones at 08:00 and 14:00 (Vietnam time), each with what
arrived before that moment. Taking the items and recording the digest's delivery is one transaction, and the
delivery's dedupe key names the agency and the period: a crash or a second process sends nothing twice.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import asyncpg
import structlog

from notify import repository
from notify.citizens import Notifier
from notify.config import Settings
from notify.notices import Links, agency_digest
from paht_shared.calendar import TIMEZONE
from paht_shared.envelope import utc_now
from paht_shared.runtime import PeriodicWorker

log = structlog.get_logger("notify.digests")

TWICE_DAILY_HOURS = (8, 14)


def period_start(mode: str, now: datetime) -> datetime:
    """The start of the current period in Vietnam time: items from before it belong to this period's digest."""
    local = now.astimezone(TIMEZONE)
    if mode == "hourly":
        return local.replace(minute=0, second=0, microsecond=0)
    today = [local.replace(hour=h, minute=0, second=0, microsecond=0) for h in TWICE_DAILY_HOURS]
    passed = [slot for slot in today if slot <= local]
    if passed:
        return passed[-1]
    return (local - timedelta(days=1)).replace(hour=TWICE_DAILY_HOURS[-1], minute=0, second=0, microsecond=0)


class DigestWorker(PeriodicWorker):
    name = "digest"

    def __init__(self, pool: asyncpg.Pool, settings: Settings, interval: float = 60.0) -> None:
        super().__init__(interval)
        self._pool = pool
        self._links = Links(settings.portal_url)
        self._notifier = Notifier(settings)

    async def run_once(self) -> int:
        return await self.send_due(utc_now())

    async def send_due(self, now: datetime) -> int:
        """Record the digests due at `now`; returns how many."""
        recorded = 0
        async with self._pool.acquire() as conn:
            agencies = await repository.digest_agencies(conn)
        for row in agencies:
            mode = row["mode"] if row["mode"] != "immediate" else "hourly"  # switched back: flush what waited
            start = period_start(mode, now)
            key = f"digest:{row['agency_code']}:{start.isoformat()}"
            async with self._pool.acquire() as conn, conn.transaction():
                items = await repository.take_for_digest(conn, row["agency_code"], start, key)
                if not items:
                    continue
                notice = agency_digest(
                    items[0]["agency_name"],
                    items[0]["agency_email"],
                    [dict(i) for i in items],
                    f"{start:%H:%M %d/%m/%Y}",
                    self._links,
                )
                delivery_event = uuid.uuid5(uuid.NAMESPACE_URL, key)  # the same period always names the same digest
                if await self._notifier.record_digest(conn, delivery_event, items[0]["report_id"], notice, key):
                    recorded += 1
                    log.info("digest_queued", agency=row["agency_code"], items=len(items))
        return recorded
