"""All of notify's SQL. Every function takes the caller's connection (and, where it says so, its transaction)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from notify.domain import Delivery, DeliveryStatus, PendingDelivery


async def record_delivery(conn: asyncpg.Connection, delivery: PendingDelivery) -> bool:
    """A message to send, recorded with the event that asked for it (the sender takes it from here). False when
    the same (event, recipient, channel) was recorded already."""
    recorded = await conn.fetchval(
        "INSERT INTO deliveries (id, event_id, correlation_id, report_id, channel, audience, agency_code, recipient, "
        "subject, message_id, message, status, recipient_sealed, kind, dedupe_key) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) "
        "ON CONFLICT (dedupe_key) DO NOTHING RETURNING true",
        delivery.id,
        delivery.event_id,
        delivery.correlation_id,
        delivery.report_id,
        delivery.channel,
        delivery.audience,
        delivery.agency_code,
        delivery.recipient,
        delivery.subject,
        delivery.message_id,
        delivery.message,
        DeliveryStatus.PENDING.value,
        delivery.recipient_sealed,
        delivery.kind,
        delivery.dedupe_key,
    )
    return bool(recorded)


_CLAIMED = (
    "id, event_id, correlation_id, report_id, channel, audience, agency_code, recipient, subject, message_id, "
    "message, attempts, recipient_sealed, kind"
)


async def claim_due(
    conn: asyncpg.Connection, limit: int, claim_id: uuid.UUID, channel: str | None = None
) -> list[PendingDelivery]:
    """Pending deliveries whose time has come (on `channel`, or on any), marked `sending` under `claim_id` (in the
    caller's transaction).

    SKIP LOCKED: several senders share the queue without taking the same row twice.
    """
    rows = await conn.fetch(
        "UPDATE deliveries SET status = 'sending', claim_id = $2, claimed_at = now(), attempts = attempts + 1 "
        "WHERE id IN (SELECT id FROM deliveries WHERE status = 'pending' "
        "AND (next_attempt_at IS NULL OR next_attempt_at <= now()) AND ($3::text IS NULL OR channel = $3) "
        "ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED) "
        f"RETURNING {_CLAIMED}",
        limit,
        claim_id,
        channel,
    )
    return [_pending(r) for r in rows]


async def claimed_under(conn: asyncpg.Connection, claim_id: uuid.UUID) -> list[PendingDelivery]:
    """The deliveries still `sending` under `claim_id` (a claim whose COMMIT answer was lost)."""
    rows = await conn.fetch(f"SELECT {_CLAIMED} FROM deliveries WHERE status = 'sending' AND claim_id = $1", claim_id)
    return [_pending(r) for r in rows]


def _pending(row: asyncpg.Record) -> PendingDelivery:
    return PendingDelivery(**{**dict(row), "message": bytes(row["message"])})


async def mark_sent(conn: asyncpg.Connection, delivery_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = 'sent', sent_at = now(), last_error = NULL WHERE id = $1", delivery_id
    )


async def release(conn: asyncpg.Connection, delivery_id: uuid.UUID, error: str, pause_seconds: float) -> None:
    """Back to pending after the mail server was away: nothing was accepted, so sending again is safe."""
    await conn.execute(
        "UPDATE deliveries SET status = 'pending', claimed_at = NULL, last_error = $2, "
        "next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1",
        delivery_id,
        error,
        pause_seconds,
    )


async def mark_failed(conn: asyncpg.Connection, delivery_id: uuid.UUID, error: str) -> None:
    await conn.execute("UPDATE deliveries SET status = 'failed', last_error = $2 WHERE id = $1", delivery_id, error)


async def mark_unknown(conn: asyncpg.Connection, delivery_id: uuid.UUID, error: str) -> None:
    await conn.execute("UPDATE deliveries SET status = 'unknown', last_error = $2 WHERE id = $1", delivery_id, error)


async def mark_abandoned_unknown(conn: asyncpg.Connection, older_than_seconds: float) -> list[uuid.UUID]:
    """Rows claimed so long ago that their sender must have died mid-send: the outcome is unknown."""
    rows = await conn.fetch(
        "UPDATE deliveries SET status = 'unknown', last_error = 'sender stopped during the send' "
        "WHERE status = 'sending' AND claimed_at < now() - make_interval(secs => $1) RETURNING id",
        older_than_seconds,
    )
    return [r["id"] for r in rows]


async def deliveries_of(conn: asyncpg.Connection, report_id: uuid.UUID) -> list[Delivery]:
    rows = await conn.fetch(
        "SELECT id, channel, recipient, subject, status, created_at, sent_at, audience, kind, attempts, last_error "
        "FROM deliveries "
        "WHERE report_id = $1 ORDER BY created_at",
        report_id,
    )
    return [Delivery(**dict(r)) for r in rows]


async def needing_a_person(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Deliveries whose outcome a person must decide: `unknown` (maybe sent) and `failed` (refused for good)."""
    return list(
        await conn.fetch(
            "SELECT id, report_id, recipient, status, last_error, attempts, created_at FROM deliveries "
            "WHERE status IN ('unknown', 'failed') ORDER BY created_at"
        )
    )


async def send_again(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> int:
    """A person decided: these `unknown`/`failed` deliveries go out (again). Returns how many were queued."""
    status = await conn.execute(
        "UPDATE deliveries SET status = 'pending', next_attempt_at = NULL, claimed_at = NULL, claim_id = NULL "
        "WHERE id = ANY($1::uuid[]) AND status IN ('unknown', 'failed')",
        ids,
    )
    return int(status.split()[-1])


async def resend_abandoned(conn: asyncpg.Connection, older_than_seconds: float) -> list[uuid.UUID]:
    """Rows claimed so long ago that their sender must have died mid-send go out again, as they are: the same
    Message-ID (a mail system can drop the duplicate) and the same idempotency key (a gateway does)."""
    rows = await conn.fetch(
        "UPDATE deliveries SET status = 'pending', claimed_at = NULL, claim_id = NULL, next_attempt_at = NULL, "
        "last_error = 'sender stopped during the send; sent again' "
        "WHERE status = 'sending' AND claimed_at < now() - make_interval(secs => $1) RETURNING id",
        older_than_seconds,
    )
    return [r["id"] for r in rows]


async def save_contact(
    conn: asyncpg.Connection, report_id: uuid.UUID, tracking_code: str, sealed: str, channels: dict[str, bool]
) -> None:
    await conn.execute(
        "INSERT INTO contacts (report_id, tracking_code, sealed, email_on, sms_on, push_on) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (report_id) DO NOTHING",
        report_id,
        tracking_code,
        sealed,
        channels.get("email", False),
        channels.get("sms", False),
        channels.get("push", False),
    )


async def contact_of(conn: asyncpg.Connection, report_id: uuid.UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT sealed, email_on, sms_on, push_on FROM contacts WHERE report_id = $1", report_id
    )
    return row


async def set_channels(conn: asyncpg.Connection, report_id: uuid.UUID, email: bool, sms: bool, push: bool) -> bool:
    status: str = await conn.execute(
        "UPDATE contacts SET email_on = $2, sms_on = $3, push_on = $4, updated_at = now() WHERE report_id = $1",
        report_id,
        email,
        sms,
        push,
    )
    return status == "UPDATE 1"


async def agency_mode(conn: asyncpg.Connection, agency_code: str) -> str:
    mode: str | None = await conn.fetchval("SELECT mode FROM agency_preferences WHERE agency_code = $1", agency_code)
    return mode or "immediate"


async def set_agency_mode(conn: asyncpg.Connection, agency_code: str, mode: str) -> None:
    await conn.execute(
        "INSERT INTO agency_preferences (agency_code, mode) VALUES ($1, $2) "
        "ON CONFLICT (agency_code) DO UPDATE SET mode = EXCLUDED.mode, updated_at = now()",
        agency_code,
        mode,
    )


async def hold_for_digest(conn: asyncpg.Connection, item: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO digest_items (agency_code, agency_name, agency_email, kind, event_id, report_id, tracking_code, "
        "title, due_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (event_id, kind) DO NOTHING",
        item["agency_code"],
        item["agency_name"],
        item["agency_email"],
        item["kind"],
        item["event_id"],
        item["report_id"],
        item["tracking_code"],
        item["title"],
        item["due_at"],
    )


async def digest_agencies(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Agencies with items waiting, and their mode."""
    return list(
        await conn.fetch(
            "SELECT DISTINCT d.agency_code, coalesce(p.mode, 'immediate') AS mode FROM digest_items d "
            "LEFT JOIN agency_preferences p ON p.agency_code = d.agency_code WHERE d.digest_key IS NULL"
        )
    )


async def take_for_digest(
    conn: asyncpg.Connection, agency_code: str, before: datetime, digest_key: str
) -> list[asyncpg.Record]:
    """The agency's waiting items from before `before`, marked as taken by this digest (in the caller's
    transaction: the digest's delivery is recorded in the same one)."""
    return list(
        await conn.fetch(
            "UPDATE digest_items SET digest_key = $3 WHERE id IN (SELECT id FROM digest_items "
            "WHERE agency_code = $1 AND digest_key IS NULL AND created_at < $2 "
            "ORDER BY created_at FOR UPDATE SKIP LOCKED) "
            "RETURNING agency_name, agency_email, kind, report_id, tracking_code, title, due_at",
            agency_code,
            before,
            digest_key,
        )
    )
