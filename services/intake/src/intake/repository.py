"""All of intake's SQL ($n parameters only). Functions take the connection of the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg


async def insert_reporter(conn: asyncpg.Connection, reporter_id: uuid.UUID, sealed: dict[str, bytes | None]) -> None:
    await conn.execute(
        "INSERT INTO reporters (id, full_name_enc, address_enc, cccd_enc, phone_enc, email_enc, phone_bidx, cccd_bidx) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        reporter_id,
        sealed["full_name"],
        sealed["address"],
        sealed["cccd"],
        sealed["phone"],
        sealed["email"],
        sealed["phone_bidx"],
        sealed["cccd_bidx"],
    )


async def insert_report(conn: asyncpg.Connection, row: dict[str, Any]) -> None:
    columns = list(row)
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    # column names come from our own dict literal in service.py, never from input
    await conn.execute(f"INSERT INTO reports ({', '.join(columns)}) VALUES ({placeholders})", *row.values())


async def add_timeline(
    conn: asyncpg.Connection,
    report_id: uuid.UUID,
    status: str,
    sequence: int,
    at: datetime,
    agency_code: str | None = None,
    agency_name: str | None = None,
    note: str | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO report_timeline (report_id, status, sequence, agency_code, agency_name, note, at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        report_id,
        status,
        sequence,
        agency_code,
        agency_name,
        note,
        at,
    )


async def lock_report_sequence(conn: asyncpg.Connection, report_id: uuid.UUID) -> int | None:
    """The sequence of the report's current status, row locked until the transaction ends; None if unknown.

    The lock orders two consumers applying changes of one report at once (during a rebalance)."""
    sequence: int | None = await conn.fetchval(
        "SELECT status_sequence FROM reports WHERE id = $1 FOR UPDATE", report_id
    )
    return sequence


async def set_status(
    conn: asyncpg.Connection,
    report_id: uuid.UUID,
    status: str,
    sequence: int,
    agency_code: str | None,
    agency_name: str | None,
    due_at: datetime | None,
) -> None:
    await conn.execute(
        "UPDATE reports SET status = $2, status_sequence = $3, agency_code = COALESCE($4, agency_code), "
        "agency_name = COALESCE($5, agency_name), due_at = COALESCE($6, due_at), updated_at = now() WHERE id = $1",
        report_id,
        status,
        sequence,
        agency_code,
        agency_name,
        due_at,
    )


async def claim_idempotency_key(
    conn: asyncpg.Connection, key: str, request_hash: bytes, report_id: uuid.UUID, response_enc: bytes
) -> bool:
    """True if this request owns the key; False if another request stored it first (it then waits for that one)."""
    owned = await conn.fetchval(
        "INSERT INTO idempotency_keys (key, request_hash, report_id, response_enc) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (key) DO NOTHING RETURNING true",
        key,
        request_hash,
        report_id,
        response_enc,
    )
    return bool(owned)


async def find_idempotency_key(conn: asyncpg.Connection, key: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT request_hash, response_enc FROM idempotency_keys WHERE key = $1", key
    )
    return row


async def find_by_tracking_code(conn: asyncpg.Connection, tracking_code: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT id, tracking_code, tracking_secret_hash, title, category, status, agency_code, agency_name, "
        "due_at, submitted_at, updated_at, is_public, anonymous FROM reports WHERE tracking_code = $1",
        tracking_code,
    )
    return row


async def timeline(conn: asyncpg.Connection, report_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT status, agency_code, agency_name, note, at FROM report_timeline WHERE report_id = $1 "
            "ORDER BY sequence, id",
            report_id,
        )
    )
