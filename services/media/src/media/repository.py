"""All of media's SQL. Functions take a connection and return domain objects."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from media.domain import DerivativeFile, MediaObject, Suggestion

COLUMNS = "id, bucket, object_key, kind, content_type, size_bytes, sha256, status"
READ_COLUMNS = (
    "m.id, m.bucket, m.object_key, m.kind, m.content_type, m.size_bytes, m.sha256, m.status, m.token_sha256, "
    "m.reject_reason, m.derivatives, m.suggestion, m.report_id, m.public, r.agency_code"
)


async def insert_media(conn: asyncpg.Connection, media: MediaObject) -> None:
    await conn.execute(
        f"INSERT INTO media_objects ({COLUMNS}, token_sha256) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        media.id,
        media.bucket,
        media.object_key,
        media.kind,
        media.content_type,
        media.size_bytes,
        media.sha256,
        media.status,
        media.token_sha256,
    )


async def find_media(conn: asyncpg.Connection, media_id: uuid.UUID) -> MediaObject | None:
    row = await conn.fetchrow(
        f"SELECT {READ_COLUMNS} FROM media_objects m LEFT JOIN report_agencies r ON r.report_id = m.report_id "
        "WHERE m.id = $1",
        media_id,
    )
    return None if row is None else _media(row)


def _media(row: asyncpg.Record) -> MediaObject:
    values: dict[str, Any] = dict(row)
    values["derivatives"] = tuple(DerivativeFile(**d) for d in values["derivatives"] or ())
    values["suggestion"] = None if values["suggestion"] is None else Suggestion(**values["suggestion"])
    return MediaObject(**values)


async def mark_ready(
    conn: asyncpg.Connection,
    media_id: uuid.UUID,
    derivatives: tuple[DerivativeFile, ...],
    suggestion: Suggestion | None,
    dimensions: tuple[int | None, int | None, float | None],
) -> bool:
    """False if the upload is no longer waiting (retention deleted it meanwhile)."""
    width, height, duration = dimensions
    status = await conn.execute(
        "UPDATE media_objects SET status = 'ready', derivatives = $2, suggestion = $3, width = $4, height = $5, "
        "duration_seconds = $6, processed_at = now() WHERE id = $1 AND status = 'processing'",
        media_id,
        [d.model_dump() for d in derivatives],
        None if suggestion is None else suggestion.model_dump(mode="json"),
        width,
        height,
        duration,
    )
    return str(status) == "UPDATE 1"


async def mark_rejected(conn: asyncpg.Connection, media_id: uuid.UUID, reason: str) -> bool:
    status = await conn.execute(
        "UPDATE media_objects SET status = 'rejected', reject_reason = $2, processed_at = now() "
        "WHERE id = $1 AND status = 'processing'",
        media_id,
        reason,
    )
    return str(status) == "UPDATE 1"


async def claim(
    conn: asyncpg.Connection, media_id: uuid.UUID, report_id: uuid.UUID, token_sha256: str, public: bool
) -> bool:
    """Attach the file to the report if the token hash is the uploader's and no report has it yet."""
    claimed = await conn.fetchval(
        "UPDATE media_objects SET report_id = $2, public = $4, claimed_at = now() "
        "WHERE id = $1 AND token_sha256 = $3 AND report_id IS NULL AND status <> 'deleted' RETURNING true",
        media_id,
        report_id,
        token_sha256,
        public,
    )
    return bool(claimed)


async def remember_publicity(conn: asyncpg.Connection, report_id: uuid.UUID, public: bool) -> None:
    await conn.execute(
        "INSERT INTO report_publicity (report_id, public) VALUES ($1, $2) ON CONFLICT (report_id) DO NOTHING",
        report_id,
        public,
    )


async def report_is_public(conn: asyncpg.Connection, report_id: uuid.UUID) -> bool:
    """Unknown (its report.submitted not seen yet): not public, the safe side."""
    return bool(await conn.fetchval("SELECT public FROM report_publicity WHERE report_id = $1", report_id))


async def claimed_by(conn: asyncpg.Connection, media_id: uuid.UUID) -> tuple[uuid.UUID | None, str] | None:
    """(report_id, status) of a file, None if unknown."""
    row = await conn.fetchrow("SELECT report_id, status FROM media_objects WHERE id = $1", media_id)
    return None if row is None else (row["report_id"], row["status"])


async def set_report_agency(
    conn: asyncpg.Connection, report_id: uuid.UUID, agency_code: str | None, sequence: int
) -> None:
    """Only a newer status change moves the agency (a late event never moves it back)."""
    await conn.execute(
        "INSERT INTO report_agencies (report_id, agency_code, sequence) VALUES ($1, $2, $3) "
        "ON CONFLICT (report_id) DO UPDATE SET "
        "agency_code = COALESCE(EXCLUDED.agency_code, report_agencies.agency_code), sequence = EXCLUDED.sequence "
        "WHERE report_agencies.sequence < EXCLUDED.sequence",
        report_id,
        agency_code,
        sequence,
    )


async def lock_unclaimed(conn: asyncpg.Connection, minutes: int, limit: int) -> list[MediaObject]:
    """Unclaimed uploads older than `minutes`, locked for deletion (SKIP LOCKED: one worker per row)."""
    rows = await conn.fetch(
        f"SELECT {READ_COLUMNS} FROM media_objects m LEFT JOIN report_agencies r ON r.report_id = m.report_id "
        "WHERE m.report_id IS NULL AND m.status <> 'deleted' AND m.created_at < now() - make_interval(mins => $1) "
        "ORDER BY m.created_at LIMIT $2 FOR UPDATE OF m SKIP LOCKED",
        minutes,
        limit,
    )
    return [_media(row) for row in rows]


async def mark_deleted(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> None:
    await conn.execute(
        "UPDATE media_objects SET status = 'deleted', deleted_at = now(), "
        "original_deleted_at = COALESCE(original_deleted_at, now()) WHERE id = ANY($1::uuid[])",
        ids,
    )


async def lock_old_originals(conn: asyncpg.Connection, days: int, limit: int) -> list[tuple[uuid.UUID, str]]:
    """Originals past their retention whose processing is over, locked: (id, key)."""
    rows = await conn.fetch(
        "SELECT id, object_key FROM media_objects WHERE original_deleted_at IS NULL AND status <> 'processing' "
        "AND created_at < now() - make_interval(days => $1) ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        days,
        limit,
    )
    return [(row["id"], row["object_key"]) for row in rows]


async def mark_originals_deleted(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> None:
    await conn.execute("UPDATE media_objects SET original_deleted_at = now() WHERE id = ANY($1::uuid[])", ids)
