"""Notify use cases: tell the lead agency it has a new report."""

from __future__ import annotations

import uuid
from email.message import EmailMessage

import asyncpg
import structlog

from notify import repository
from notify.config import Settings
from notify.domain import Delivery
from notify.mailer import Mailer
from paht_shared import outbox
from paht_shared.contracts import NotificationSentV1, ReportStatus, ReportStatusChangedV1, topics
from paht_shared.contracts.dispatch import Event
from paht_shared.envelope import utc_now

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
    """Handler for report.status_changed: on `assigned`, email the agency and log the delivery.

    The email goes out inside the inbox transaction: if the commit then fails, the event is redelivered and
    the email sent again with the same Message-ID (at-least-once; the receiver can deduplicate).
    """

    def __init__(self, settings: Settings, mailer: Mailer) -> None:
        self._settings = settings
        self._mailer = mailer

    async def __call__(self, event: Event[ReportStatusChangedV1], conn: asyncpg.Connection) -> None:
        change = event.data
        if change.status != ReportStatus.ASSIGNED or not change.agency_email:
            return
        message = assignment_email(event, change.agency_email, self._settings)
        delivery_id = uuid.uuid4()
        await repository.record_delivery(
            conn,
            delivery_id,
            event.event_id,
            change.report_id,
            change.agency_email,
            message["Subject"],
            str(message["Message-ID"]),
        )
        await self._mailer.send(message)
        sent = NotificationSentV1(
            delivery_id=delivery_id,
            report_id=change.report_id,
            channel="email",
            audience="agency",
            agency_code=change.agency_code,
            sent_at=utc_now(),
        )
        key = str(change.report_id)
        await outbox.add(conn, topics.NOTIFICATION_SENT, event.caused(sent, PRODUCER), key=key)
        log.info("agency_notified", report_id=key, agency=change.agency_code)
