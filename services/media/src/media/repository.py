"""All of media's SQL. Functions take a connection and return domain objects."""

from __future__ import annotations

import uuid

import asyncpg

from media.domain import MediaObject

COLUMNS = "id, bucket, object_key, kind, content_type, size_bytes, sha256, status"


async def insert_media(conn: asyncpg.Connection, media: MediaObject) -> None:
    await conn.execute(
        f"INSERT INTO media_objects ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        media.id,
        media.bucket,
        media.object_key,
        media.kind,
        media.content_type,
        media.size_bytes,
        media.sha256,
        media.status,
    )


async def find_media(conn: asyncpg.Connection, media_id: uuid.UUID) -> MediaObject | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM media_objects WHERE id = $1", media_id)
    return None if row is None else MediaObject(**dict(row))
