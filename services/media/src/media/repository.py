"""All of media's SQL."""

from __future__ import annotations

import uuid

import asyncpg

from media.domain import MediaType


async def insert_media(
    pool: asyncpg.Pool, media_id: uuid.UUID, bucket: str, key: str, media_type: MediaType, size: int, sha256: bytes
) -> None:
    await pool.execute(
        "INSERT INTO media_objects (id, bucket, object_key, kind, content_type, size_bytes, sha256, status) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, 'quarantine')",
        media_id,
        bucket,
        key,
        media_type.kind,
        media_type.content_type,
        size,
        sha256,
    )


async def find_media(pool: asyncpg.Pool, media_id: uuid.UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await pool.fetchrow(
        "SELECT object_key, content_type FROM media_objects WHERE id = $1", media_id
    )
    return row
