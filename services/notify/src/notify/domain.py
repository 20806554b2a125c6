"""Notify's value objects. No I/O."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # recorded, waiting for the sender
    SENDING = "sending"  # claimed by a sender; the outcome is being decided
    SENT = "sent"  # the mail server accepted it
    FAILED = "failed"  # refused for good (5xx): a person must look
    UNKNOWN = "unknown"  # the sender died mid-send: maybe sent; never sent again on its own


class Delivery(BaseModel):
    """One message about a report, as the delivery log shows it."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    channel: str
    recipient: str
    subject: str
    status: DeliveryStatus
    created_at: datetime
    sent_at: datetime | None


class PendingDelivery(BaseModel):
    """A rendered message waiting to be sent (the bytes are sent as they are, once)."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    event_id: uuid.UUID  # the status event that asked for it: the notification.sent event's cause
    correlation_id: str
    report_id: uuid.UUID
    channel: str
    audience: str
    agency_code: str | None
    recipient: str
    subject: str
    message_id: str
    message: bytes
    attempts: int = 0  # sends tried so far, this one included once claimed
