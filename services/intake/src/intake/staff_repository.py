"""The SQL of staff's views ($n parameters only). Functions take the connection of the caller's transaction."""

from __future__ import annotations

import uuid

import asyncpg


async def report_with_reporter(conn: asyncpg.Connection, report_id: uuid.UUID) -> asyncpg.Record | None:
    """What decides access to a report's reporter (current agency, anonymity, consent) and the reporter's
    sealed identity; None for an unknown report."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT r.id, r.tracking_code, r.agency_code, r.anonymous, r.consent_use, p.id AS reporter_id, "
        "p.full_name_enc, p.address_enc, p.cccd_enc, p.phone_enc, p.email_enc "
        "FROM reports r JOIN reporters p ON p.id = r.reporter_id WHERE r.id = $1",
        report_id,
    )
    return row


async def reports_by_phone(conn: asyncpg.Connection, phone_bidx: bytes, limit: int) -> list[asyncpg.Record]:
    """A caller's earlier reports, newest first, found through the phone's blind index (never the number).
    Anonymous reports are left out: anonymity means nobody links a report to the person, an operator
    included, and a phone number on the line proves nothing about who holds it."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT r.id, r.tracking_code, r.title, r.category, r.channel, r.status, r.emergency, r.submitted_at, "
        "r.agency_name FROM reports r JOIN reporters p ON p.id = r.reporter_id "
        "WHERE p.phone_bidx = $1 AND NOT r.anonymous ORDER BY r.submitted_at DESC LIMIT $2",
        phone_bidx,
        limit,
    )
    return rows
