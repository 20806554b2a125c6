"""Retention, a worker of the media worker process: uploads no report claimed are deleted after
`unattached_retention_minutes`; originals in quarantine after `quarantine_retention_days` (derivatives stay)."""

from __future__ import annotations

import asyncpg
import structlog

from media import repository
from media.config import Settings
from media.domain import derivatives_prefix
from media.storage import ObjectStore, StorageUnavailable
from paht_shared.runtime import PeriodicWorker

log = structlog.get_logger("media.retention")

BATCH = 100


class MediaRetention(PeriodicWorker):
    """One sweep every `retention_check_seconds`. Each batch is one transaction that holds its rows (SKIP
    LOCKED: several workers share the work) while their objects are removed: if S3 fails the batch rolls
    back and the next sweep tries again, so a row never says `deleted` while its bytes remain."""

    name = "media_retention"

    def __init__(self, pool: asyncpg.Pool, store: ObjectStore, settings: Settings) -> None:
        super().__init__(settings.retention_check_seconds)
        self._pool = pool
        self._store = store
        self._settings = settings

    async def run_once(self) -> tuple[int, int]:
        return await self.sweep_once()

    def waits_for(self, exc: Exception) -> bool:
        return super().waits_for(exc) or isinstance(exc, StorageUnavailable)

    async def sweep_once(self) -> tuple[int, int]:
        """(uploads deleted, originals deleted)."""
        unclaimed = await self._delete_unclaimed()
        originals = await self._delete_old_originals()
        if unclaimed or originals:
            log.info("media_retention_swept", unclaimed=unclaimed, originals=originals)
        return unclaimed, originals

    async def _delete_unclaimed(self) -> int:
        total = 0
        while True:
            async with self._pool.acquire() as conn, conn.transaction():
                batch = await repository.lock_unclaimed(conn, self._settings.unattached_retention_minutes, BATCH)
                for media in batch:
                    await self._store.delete(media.object_key)
                    # by prefix, not by the row's list: a run that crashed may have left files it never recorded
                    await self._store.delete_prefix(derivatives_prefix(media.id, self._store.key_prefix))
                if batch:
                    await repository.mark_deleted(conn, [m.id for m in batch])
            total += len(batch)
            if len(batch) < BATCH:
                return total

    async def _delete_old_originals(self) -> int:
        total = 0
        while True:
            async with self._pool.acquire() as conn, conn.transaction():
                batch = await repository.lock_old_originals(conn, self._settings.quarantine_retention_days, BATCH)
                for _, key in batch:
                    await self._store.delete(key)
                if batch:
                    await repository.mark_originals_deleted(conn, [media_id for media_id, _ in batch])
            total += len(batch)
            if len(batch) < BATCH:
                return total
