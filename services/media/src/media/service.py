"""Media use cases: store an upload as it streams in, show a file to who may see it, open a sanitised file."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

import asyncpg
import structlog

from media import repository
from media.config import Settings
from media.domain import (
    SNIFF_BYTES,
    MediaNotFound,
    MediaObject,
    StoredMedia,
    UploadMeter,
    derivative_key,
    identify,
    new_upload_token,
    quarantine_key,
    size_limit,
)
from media.storage import ObjectMissing, ObjectStore, ObjectStream
from paht_shared import outbox
from paht_shared.contracts import MediaUploadedV1, topics
from paht_shared.envelope import Envelope, utc_now

log = structlog.get_logger("media.service")

PRODUCER = "media"


async def store_upload(
    chunks: AsyncIterable[bytes], store: ObjectStore, pool: asyncpg.Pool, settings: Settings, correlation_id: str
) -> StoredMedia:
    """Sniff the first bytes, stream the file to quarantine in S3, then record it and announce it.

    Raises EmptyFile or UnsupportedMediaType before anything is stored, FileTooLarge as soon as the
    stream passes its kind's limit (the partial upload is discarded), StorageUnavailable if S3 fails.
    The row and the media.uploaded event (outbox, one transaction) are written only once the object is
    complete, and the object is removed if they fail: nothing is recorded that has no bytes, and no
    bytes stay that nobody can find.
    """
    source = aiter(chunks)
    head = b""
    async for chunk in source:
        head += chunk
        if len(head) >= SNIFF_BYTES:
            break
    media_type = identify(head)
    media_id = uuid.uuid4()
    key = quarantine_key(media_id, store.key_prefix)
    limit = size_limit(
        media_type.kind,
        image=settings.max_image_bytes,
        video=settings.max_video_bytes,
        audio=settings.max_audio_bytes,
        ceiling=settings.max_upload_bytes,
    )
    meter = UploadMeter(limit)
    await store.upload(key, media_type.content_type, _metered(meter, head, source))
    token, token_sha256 = new_upload_token()
    media = MediaObject(
        id=media_id,
        bucket=store.bucket,
        object_key=key,
        kind=media_type.kind,
        content_type=media_type.content_type,
        size_bytes=meter.size,
        sha256=meter.sha256,
        status="processing",
        token_sha256=token_sha256,
    )
    uploaded = MediaUploadedV1(
        media_id=media_id,
        kind=media.kind,
        content_type=media.content_type,
        size_bytes=media.size_bytes,
        uploaded_at=utc_now(),
    )
    try:
        async with pool.acquire() as conn, conn.transaction():
            await repository.insert_media(conn, media)
            await outbox.add(
                conn, topics.MEDIA_UPLOADED, Envelope.of(uploaded, PRODUCER, correlation_id), key=str(media_id)
            )
    except BaseException:
        await store.remove(key)  # an object nobody can find would only take space
        raise
    log.info("media_uploaded", media_id=str(media_id), kind=media.kind, size=media.size_bytes)
    return StoredMedia(
        id=media_id,
        upload_token=token,
        status="processing",
        kind=media.kind,
        content_type=media.content_type,
        size=media.size_bytes,
    )


async def _metered(meter: UploadMeter, head: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    meter.add(head)
    yield head
    async for chunk in rest:
        meter.add(chunk)
        yield chunk


async def find_media(media_id: uuid.UUID, pool: asyncpg.Pool) -> MediaObject:
    """The upload with its claim and its report's agency; MediaNotFound if unknown or deleted."""
    async with pool.acquire() as conn:
        media = await repository.find_media(conn, media_id)
    if media is None or media.status == "deleted":
        raise MediaNotFound
    return media


@dataclass(frozen=True)
class Download:
    """A sanitised file, open for reading: the caller streams `body.chunks()` and then closes `body`."""

    media: MediaObject
    name: str
    content_type: str
    body: ObjectStream


async def open_derivative(media_id: uuid.UUID, name: str, store: ObjectStore, pool: asyncpg.Pool) -> Download:
    """One sanitised file of a ready upload. The original is not a derivative, so it can never be opened here.

    Raises MediaNotFound (unknown, not ready, no such derivative), StorageUnavailable if S3 fails.
    """
    media = await find_media(media_id, pool)
    derivative = media.derivative(name)
    if media.status != "ready" or derivative is None:
        raise MediaNotFound
    try:
        body = await store.open(derivative_key(media_id, name, store.key_prefix))
    except ObjectMissing:
        log.warning("media_derivative_missing", media_id=str(media_id), name=name)
        raise MediaNotFound from None
    return Download(media=media, name=name, content_type=derivative.content_type, body=body)
