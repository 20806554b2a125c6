"""Notify use cases: tell the lead agency it has a new report; show the delivery log."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from email.policy import SMTP

import asyncpg
import structlog

from notify import repository
from notify.config import Settings
from notify.domain import Delivery, PendingDelivery
from paht_shared import outbox
from paht_shared.contracts import NotificationSentV1, ReportStatus, ReportStatusChangedV1, topics
from paht_shared.contracts.dispatch import Event
from paht_shared.envelope import Envelope, utc_now

log = structlog.get_logger("notify.service")

PRODUCER = "notify"


async def deliveries_of(pool: asyncpg.Pool, report_id: uuid.UUID) -> list[Delivery]:
    async with pool.acquire() as conn:
        return await repository.deliveries_of(conn, report_id)


def assignment_email(event: Event[ReportStatusChangedV1], recipient: str, settings: Settings) -> EmailMessage:
    change = event.data
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = recipient
    message["Subject"] = f"[PAHT] Phản ánh mới {change.tracking_code}: {change.title}"
    # Derived from the event id: a receiving system can drop a duplicate after a crash-and-retry.
    message["Message-ID"] = f"<{event.event_id}@paht.notify>"
    message["X-PAHT-Report-Id"] = str(change.report_id)
    due = change.due_at.isoformat() if change.due_at else "—"
    message.set_content(
        "\n".join(
            [
                f"Kính gửi {change.agency_name},",
                "",
                "Hệ thống Phản ánh hiện trường đã chuyển đến quý cơ quan một phản ánh mới:",
                f"  Mã phản ánh: {change.tracking_code}",
                f"  Tiêu đề: {change.title}",
                f"  Chuyên mục: {change.category}",
                f"  Phường/xã: {change.ward_code}",
                f"  Hạn trả lời: {due}",
                "",
                f"Vui lòng xem chi tiết và xử lý tại {settings.portal_url}.",
            ]
        )
    )
    return message


class StatusNotifier:
    """Handler for report.status_changed: on `assigned`, record the agency's email for the sender.

    Recording happens in the consumer's inbox transaction, so a redelivered event records nothing more;
    the mail server is not touched here (see DeliverySender), so a commit that fails can never have sent.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def __call__(self, event: Event[ReportStatusChangedV1], conn: asyncpg.Connection) -> None:
        change = event.data
        if change.status != ReportStatus.ASSIGNED or not change.agency_email:
            return
        message = assignment_email(event, change.agency_email, self._settings)
        delivery = PendingDelivery(
            id=uuid.uuid4(),
            event_id=event.event_id,
            correlation_id=event.envelope.correlation_id,
            report_id=change.report_id,
            channel="email",
            audience="agency",
            agency_code=change.agency_code,
            recipient=change.agency_email,
            subject=str(message["Subject"]),
            message_id=str(message["Message-ID"]),
            message=message.as_bytes(policy=SMTP),  # CRLF line ends: what SMTP servers expect on the wire
        )
        await repository.record_delivery(conn, delivery)
        log.info("agency_email_queued", report_id=str(change.report_id), agency=change.agency_code)


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
