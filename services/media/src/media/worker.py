"""The media worker process: sanitises uploads off the request path (media.uploaded), claims files for the
reports that show their upload token (report.submitted), follows each report's agency (report.status_changed),
and runs retention beside them."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import structlog

from media import repository
from media.config import Settings
from media.domain import DerivativeFile, Suggestion, derivative_key
from media.retention import MediaRetention
from media.sanitise import Policy, Refused, Sanitised, sanitise
from media.storage import ObjectMissing, ObjectStore, ObjectTooLarge, StorageUnavailable
from paht_shared import outbox
from paht_shared.consumer import Subscription
from paht_shared.contracts import (
    InformationProvidedV1,
    MediaRef,
    MediaRejectedV1,
    MediaStoredV1,
    MediaUploadedV1,
    ReportStatusChangedV1,
    ReportSubmittedV1,
    topics,
)
from paht_shared.contracts.dispatch import Event, dispatch
from paht_shared.envelope import utc_now
from paht_shared.failures import is_dependency_failure
from paht_shared.runtime import Stoppable, run_consumers

log = structlog.get_logger("media.worker")

PRODUCER = "media"
# Consumer group and inbox names: renaming one would make its old events look new.
SANITISE = "media.sanitise"
CLAIMS = "media.claims"
REPORTS = "media.reports"
REPLIES = "media.replies"  # the files of citizens' information replies

Sanitiser = Callable[[Path, Path, Policy], Sanitised]


def is_transient(exc: BaseException) -> bool:
    """S3 down is an outage like PostgreSQL down: retried until it returns, never dead-lettered."""
    return is_dependency_failure(exc) or isinstance(exc, StorageUnavailable)


class Pipeline:
    """media.uploaded -> the original from quarantine, sanitised in a thread, its derivatives to S3, the row
    `ready` and media.stored; or `rejected` and media.rejected.

    Runs in the inbox transaction: a redelivered event is skipped, and a crash part-way rolls everything back
    so the redelivery does the whole job again, writing the same keys (nothing is duplicated).
    """

    def __init__(self, store: ObjectStore, settings: Settings, sanitiser: Sanitiser = sanitise) -> None:
        self._store = store
        self._settings = settings
        self._sanitise = sanitiser
        self._policy = Policy()

    async def uploaded(self, event: Event[MediaUploadedV1], conn: asyncpg.Connection) -> None:
        media_id = event.data.media_id
        media = await repository.find_media(conn, media_id)
        if media is None or media.status != "processing":
            log.info("media_not_waiting", media_id=str(media_id), status=None if media is None else media.status)
            return
        with tempfile.TemporaryDirectory(prefix="media-", dir=self._settings.work_dir) as folder:
            original, workdir = Path(folder) / "original", Path(folder) / "out"
            workdir.mkdir()
            try:
                await self._store.download_to(media.object_key, original, self._settings.max_upload_bytes)
                # CPU-bound and blocking (decoders, ffmpeg): a thread keeps the other consumers going
                result = await asyncio.to_thread(self._sanitise, original, workdir, self._policy)
            except ObjectMissing:
                await self._reject(event, conn, "original_missing")
                return
            except ObjectTooLarge:
                await self._reject(event, conn, "file_too_large")
                return
            except Refused as exc:
                await self._reject(event, conn, exc.code)
                return
            files = [
                DerivativeFile(
                    name=d.name,
                    content_type=d.content_type,
                    size=await self._store.put_file(
                        derivative_key(media_id, d.name, self._store.key_prefix), d.path, d.content_type
                    ),
                )
                for d in result.derivatives
            ]
        suggestion = (
            None
            if result.suggestion is None
            else Suggestion(lat=result.suggestion.lat, lon=result.suggestion.lon, taken_at=result.suggestion.taken_at)
        )
        dimensions = (result.width, result.height, result.duration_seconds)
        if not await repository.mark_ready(conn, media_id, tuple(files), suggestion, dimensions):
            # retention deleted the upload while we worked: our files must go with it
            for file in files:
                await self._store.delete(derivative_key(media_id, file.name, self._store.key_prefix))
            log.info("media_deleted_while_processing", media_id=str(media_id))
            return
        stored = MediaStoredV1(
            media_id=media_id,
            kind=media.kind,
            content_type=result.content_type,
            size_bytes=media.size_bytes,
            stored_at=utc_now(),
            derivatives=tuple(f.name for f in files),
        )
        await outbox.add(conn, topics.MEDIA_STORED, event.caused(stored, PRODUCER), key=str(media_id))
        log.info("media_ready", media_id=str(media_id), derivatives=[f.name for f in files])

    async def _reject(self, event: Event[MediaUploadedV1], conn: asyncpg.Connection, reason: str) -> None:
        media_id = event.data.media_id
        if not await repository.mark_rejected(conn, media_id, reason):
            return
        rejected = MediaRejectedV1(media_id=media_id, reason=reason, rejected_at=utc_now())
        await outbox.add(conn, topics.MEDIA_REJECTED, event.caused(rejected, PRODUCER), key=str(media_id))
        log.info("media_rejected", media_id=str(media_id), reason=reason)


async def claim_files(event: Event[ReportSubmittedV1], conn: asyncpg.Connection) -> None:
    """Each attached file becomes the report's only if the submitter showed its upload token (its hash) and no
    report has it yet; any other id is refused (not_owner), so nobody can attach, and thereby publish, a file
    someone else uploaded."""
    report = event.data
    await repository.remember_publicity(conn, report.report_id, report.public)
    await _claim(event, conn, report.report_id, report.media_ids, report.media, report.public)


async def _claim(
    event: Event[Any],
    conn: asyncpg.Connection,
    report_id: uuid.UUID,
    media_ids: tuple[uuid.UUID, ...],
    refs: tuple[MediaRef, ...],
    public: bool,
) -> None:
    proofs = {ref.media_id: ref.token_sha256 for ref in refs}
    for media_id in dict.fromkeys([*media_ids, *proofs]):
        proof = proofs.get(media_id)
        if proof is not None and await repository.claim(conn, media_id, report_id, proof, public):
            log.info("media_claimed", media_id=str(media_id), report_id=str(report_id))
            continue
        rejected = MediaRejectedV1(media_id=media_id, reason="not_owner", rejected_at=utc_now())
        await outbox.add(conn, topics.MEDIA_REJECTED, event.caused(rejected, PRODUCER), key=str(report_id))
        log.warning("media_claim_refused", media_id=str(media_id), report_id=str(report_id))


async def follow_agency(event: Event[ReportStatusChangedV1], conn: asyncpg.Connection) -> None:
    """The report's current agency, whose officers may see its files; and the files of the agency's answer,
    claimed for the report (public with a public report). Ids sent without their upload proof (from before
    proofs, or an agency system's connector) are only listed, never claimed: nothing to refuse."""
    change = event.data
    await repository.set_report_agency(conn, change.report_id, change.agency_code, change.sequence)
    if change.media:
        public = await repository.report_is_public(conn, change.report_id)
        proven = tuple(ref.media_id for ref in change.media)
        await _claim(event, conn, change.report_id, proven, change.media, public)


async def claim_reply_files(event: Event[InformationProvidedV1], conn: asyncpg.Connection) -> None:
    """The files a citizen attached to their information reply: theirs to give (the upload proof), kept with
    the report for the agency, never public."""
    reply = event.data
    if reply.media:
        proven = tuple(ref.media_id for ref in reply.media)
        await _claim(event, conn, reply.report_id, proven, reply.media, public=False)


def subscriptions(settings: Settings, store: ObjectStore, sanitiser: Sanitiser = sanitise) -> list[Subscription]:
    pipeline = Pipeline(store, settings, sanitiser)
    return [
        Subscription(SANITISE, (topics.MEDIA_UPLOADED,), dispatch({MediaUploadedV1: pipeline.uploaded}), is_transient),
        Subscription(CLAIMS, (topics.REPORT_SUBMITTED,), dispatch({ReportSubmittedV1: claim_files})),
        Subscription(REPORTS, (topics.REPORT_STATUS_CHANGED,), dispatch({ReportStatusChangedV1: follow_agency})),
        Subscription(REPLIES, (topics.REPORT_CITIZEN_ACTIONS,), dispatch({InformationProvidedV1: claim_reply_files})),
    ]


async def run_worker(settings: Settings) -> None:
    store = ObjectStore(settings)

    def retention(pool: asyncpg.Pool) -> list[Stoppable]:
        return [MediaRetention(pool, store, settings)]

    try:
        await run_consumers(settings, settings.db_schema, subscriptions(settings, store), workers=retention)
    finally:
        store.close()
