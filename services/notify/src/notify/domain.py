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
    audience: str = "agency"
    kind: str | None = None
    attempts: int = 0
    last_error: str | None = None


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
    recipient: str  # an agency's address; for a citizen only a masked form (the log shows it)
    subject: str
    message_id: str
    message: bytes  # email: the RFC 5322 message (a citizen's without its To: header); sms/push: UTF-8 text
    attempts: int = 0  # sends tried so far, this one included once claimed
    recipient_sealed: str | None = None  # a citizen's address, sealed for notify; opened only to send
    kind: str | None = None  # what it tells: "citizen.answered", "agency.assigned", ...

    @property
    def dedupe_key(self) -> str:
        """Exactly once per (event, recipient, channel): the event's redelivery records nothing more. (Built
        from the masked recipient: sealing is randomised, the masked form is stable.)"""
        return f"{self.event_id}:{self.channel}:{self.audience}:{self.recipient}"
