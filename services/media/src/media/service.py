"""Media use cases: store an upload as it streams in, open a stored file for download."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

import asyncpg
import structlog

from media import repository
from media.domain import (
    SNIFF_BYTES,
    MediaNotFound,
    MediaObject,
    StoredMedia,
    UploadMeter,
    identify,
    quarantine_key,
)
from media.storage import ObjectMissing, ObjectStore, ObjectStream

log = structlog.get_logger("media.service")


async def store_upload(
    chunks: AsyncIterable[bytes], store: ObjectStore, pool: asyncpg.Pool, max_bytes: int
) -> StoredMedia:
    """Sniff the first bytes, stream the file to quarantine in S3, then record it.

    Raises EmptyFile or UnsupportedMediaType before anything is stored, FileTooLarge as soon as the
    stream passes `max_bytes` (the partial upload is discarded), StorageUnavailable if S3 fails.
    The row is written only once the object is complete, and the object removed if the row fails.
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
    meter = UploadMeter(max_bytes)
    await store.upload(key, media_type.content_type, _metered(meter, head, source))
    media = MediaObject(
        id=media_id,
        bucket=store.bucket,
        object_key=key,
        kind=media_type.kind,
        content_type=media_type.content_type,
        size_bytes=meter.size,
        sha256=meter.sha256,
        status="quarantine",
    )
    try:
        async with pool.acquire() as conn:
            await repository.insert_media(conn, media)
    except BaseException:
        await store.remove(key)  # an object nobody can find would only take space
        raise
    log.info("media_stored", media_id=str(media_id), kind=media.kind, size=media.size_bytes)
    return media.stored()


async def _metered(meter: UploadMeter, head: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    meter.add(head)
    yield head
    async for chunk in rest:
        meter.add(chunk)
        yield chunk


@dataclass(frozen=True)
class Download:
    """A stored file, open for reading: the caller streams `body.chunks()` and then closes `body`."""

    media: MediaObject
    body: ObjectStream


async def open_download(media_id: uuid.UUID, store: ObjectStore, pool: asyncpg.Pool) -> Download:
    """Raises MediaNotFound for an unknown id, StorageUnavailable if S3 fails."""
    async with pool.acquire() as conn:
        media = await repository.find_media(conn, media_id)
    if media is None:
        raise MediaNotFound
    try:
        body = await store.open(media.object_key)
    except ObjectMissing:
        log.warning("media_object_missing", media_id=str(media_id))
        raise MediaNotFound from None
    return Download(media=media, body=body)
