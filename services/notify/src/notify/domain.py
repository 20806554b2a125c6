"""Notify's value objects. No I/O."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict


class Delivery(BaseModel):
    """One message sent (or attempted) about a report, as the delivery log shows it."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    channel: str
    recipient: str
    subject: str
    status: str
    sent_at: datetime
