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
from paht_shared.envelope import Envelope, utc_now

log = structlog.get_logger("notify.service")

NOTIFICATION_SENT = "notification.sent.v1"
PRODUCER = "notify"


async def deliveries_of(pool: asyncpg.Pool, report_id: uuid.UUID) -> list[Delivery]:
    async with pool.acquire() as conn:
        return await repository.deliveries_of(conn, report_id)


def assignment_email(event: Envelope, settings: Settings) -> EmailMessage:
    data = event.data
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = data["agency_email"]
    message["Subject"] = f"[PAHT] Phản ánh mới {data.get('tracking_code') or ''}: {data.get('title') or ''}".strip()
    # Derived from the event id: a receiving system can drop a duplicate after a crash-and-retry.
    message["Message-ID"] = f"<{event.event_id}@paht.notify>"
    message["X-PAHT-Report-Id"] = data["report_id"]
    message.set_content(
        "\n".join(
            [
                f"Kính gửi {data.get('agency_name')},",
                "",
                "Hệ thống Phản ánh hiện trường đã chuyển đến quý cơ quan một phản ánh mới:",
                f"  Mã phản ánh: {data.get('tracking_code')}",
                f"  Tiêu đề: {data.get('title')}",
                f"  Chuyên mục: {data.get('category')}",
                f"  Phường/xã: {data.get('ward_code')}",
                f"  Hạn trả lời: {data.get('due_at')}",
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

    async def __call__(self, event: Envelope, conn: asyncpg.Connection) -> None:
        data = event.data
        if data.get("status") != "assigned" or not data.get("agency_email"):
            return
        message = assignment_email(event, self._settings)
        delivery_id = uuid.uuid4()
        await repository.record_delivery(
            conn,
            delivery_id,
            event.event_id,
            uuid.UUID(data["report_id"]),
            data["agency_email"],
            message["Subject"],
            str(message["Message-ID"]),
        )
        await self._mailer.send(message)
        sent = event.caused(
            NOTIFICATION_SENT,
            PRODUCER,
            {
                "delivery_id": str(delivery_id),
                "report_id": data["report_id"],
                "channel": "email",
                "audience": "agency",
                "agency_code": data.get("agency_code"),
                "sent_at": utc_now().isoformat(),
            },
        )
        await outbox.add(conn, NOTIFICATION_SENT, sent, key=data["report_id"])
        log.info("agency_notified", report_id=data["report_id"], agency=data.get("agency_code"))
