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
