"""All of notify's SQL."""

from __future__ import annotations

import uuid

import asyncpg

from notify.domain import Delivery


async def record_delivery(
    conn: asyncpg.Connection,
    delivery_id: uuid.UUID,
    event_id: uuid.UUID,
    report_id: uuid.UUID,
    recipient: str,
    subject: str,
    message_id: str,
) -> None:
    await conn.execute(
        "INSERT INTO deliveries (id, event_id, report_id, channel, recipient, subject, message_id, status) "
        "VALUES ($1, $2, $3, 'email', $4, $5, $6, 'sent')",
        delivery_id,
        event_id,
        report_id,
        recipient,
        subject,
        message_id,
    )


async def deliveries_of(conn: asyncpg.Connection, report_id: uuid.UUID) -> list[Delivery]:
    rows = await conn.fetch(
        "SELECT id, channel, recipient, subject, status, sent_at FROM deliveries WHERE report_id = $1 ORDER BY sent_at",
        report_id,
    )
    return [Delivery(**dict(r)) for r in rows]
