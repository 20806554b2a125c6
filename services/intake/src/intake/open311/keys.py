"""The integrators' Open311 api keys: issued once by an admin, kept only as SHA-256, revoked by an admin."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime

import asyncpg
import structlog
from pydantic import BaseModel

log = structlog.get_logger("intake.open311.keys")

KEY_PREFIX = "o311_"  # recognisable in a leaked config file or a secret scanner's rules
MAX_KEY_CHARS = 200  # far above a real key; anything longer is refused before it is hashed
HINT_CHARS = len(KEY_PREFIX) + 4


class ApiKey(BaseModel):
    """A key as the admin list shows it: never the key itself."""

    id: uuid.UUID
    client: str
    key_hint: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None


class IssuedKey(ApiKey):
    """The answer to issuing a key: the only time the key is ever shown."""

    key: str


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)  # 256 random bits


def key_digest(key: str) -> bytes:
    # "replace": a client may send any text; it must hash (and then not match), never raise
    return hashlib.sha256(key.encode("utf-8", "replace")).digest()


_COLUMNS = "id, client, key_hint, created_by, created_at, revoked_at, revoked_by"


async def issue_key(pool: asyncpg.Pool, client: str, created_by: str) -> IssuedKey:
    key = new_key()
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            f"INSERT INTO open311_keys (id, client, key_sha256, key_hint, created_by) VALUES ($1, $2, $3, $4, $5) "
            f"RETURNING {_COLUMNS}",
            uuid.uuid4(),
            client,
            key_digest(key),
            key[:HINT_CHARS],
            created_by,
        )
    log.info("open311_key_issued", key_id=str(row["id"]), created_by=created_by)
    return IssuedKey(**dict(row), key=key)


async def list_keys(pool: asyncpg.Pool) -> list[ApiKey]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(f"SELECT {_COLUMNS} FROM open311_keys ORDER BY created_at, id")
    return [ApiKey(**dict(r)) for r in rows]


async def revoke_key(pool: asyncpg.Pool, key_id: uuid.UUID, revoked_by: str) -> ApiKey | None:
    """The key, revoked now or already before (a second revocation keeps the first one's time); None if unknown."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "UPDATE open311_keys SET revoked_at = coalesce(revoked_at, now()), "
            f"revoked_by = coalesce(revoked_by, $2) WHERE id = $1 RETURNING {_COLUMNS}",
            key_id,
            revoked_by,
        )
    if row is None:
        return None
    log.info("open311_key_revoked", key_id=str(key_id), revoked_by=revoked_by)
    return ApiKey(**dict(row))


async def active_key(pool: asyncpg.Pool, presented: str) -> uuid.UUID | None:
    """The id of the key presented if it exists and is not revoked."""
    if not presented or len(presented) > MAX_KEY_CHARS:
        return None
    async with pool.acquire() as conn:
        key_id: uuid.UUID | None = await conn.fetchval(
            "SELECT id FROM open311_keys WHERE key_sha256 = $1 AND revoked_at IS NULL", key_digest(presented)
        )
    return key_id


async def record_submission(conn: asyncpg.Connection, report_id: uuid.UUID, key_id: uuid.UUID) -> None:
    """Which key sent the report; in the report's own transaction (service.submit_report's `also`)."""
    await conn.execute("INSERT INTO open311_submissions (report_id, key_id) VALUES ($1, $2)", report_id, key_id)
