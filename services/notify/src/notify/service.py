"""Notify use cases: tell the lead agency it has a new report; show the delivery log."""

from __future__ import annotations

import uuid

import asyncpg
import structlog

from notify import repository
from notify.domain import Delivery, PendingDelivery
from paht_shared import outbox
from paht_shared.contracts import NotificationSentV1, topics
from paht_shared.envelope import Envelope, utc_now

log = structlog.get_logger("notify.service")

PRODUCER = "notify"


async def deliveries_of(pool: asyncpg.Pool, report_id: uuid.UUID) -> list[Delivery]:
    async with pool.acquire() as conn:
        return await repository.deliveries_of(conn, report_id)


async def record_sent(conn: asyncpg.Connection, delivery: PendingDelivery) -> None:
    """The mail server accepted it: the delivery log says so and notification.sent goes out, together."""
    await repository.mark_sent(conn, delivery.id)
    sent = NotificationSentV1(
        delivery_id=delivery.id,
        report_id=delivery.report_id,
        channel="email",
        audience="agency",
        agency_code=delivery.agency_code,
        sent_at=utc_now(),
    )
    envelope = Envelope.of(sent, PRODUCER, delivery.correlation_id, causation_id=str(delivery.event_id))
    await outbox.add(conn, topics.NOTIFICATION_SENT, envelope, key=str(delivery.report_id))
