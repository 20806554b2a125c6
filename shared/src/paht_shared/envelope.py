"""The one event envelope every PAHT event travels in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # the contracts package imports this module
    from paht_shared.contracts.base import EventData


def utc_now() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    """event_id is the idempotency key consumers record in their inbox.

    `data` is the wire form; services never build it by hand: `Envelope.of(payload)` from a contract model,
    and consumers receive the model through `paht_shared.contracts.dispatch`.
    """

    model_config = ConfigDict(frozen=True)

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    event_type: str
    schema_version: int = 1
    occurred_at: datetime = Field(default_factory=utc_now)
    producer: str
    correlation_id: str
    causation_id: str | None = None
    data: dict[str, Any]

    @classmethod
    def of(cls, payload: EventData, producer: str, correlation_id: str, causation_id: str | None = None) -> Envelope:
        """The envelope of a contract payload: its type and version come from the payload's model."""
        return cls(
            event_type=payload.event_type,
            schema_version=payload.schema_version,
            producer=producer,
            correlation_id=correlation_id,
            causation_id=causation_id,
            data=payload.model_dump(mode="json"),
        )

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        return cls.model_validate_json(raw)

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        """event_type, event_id and correlation_id mirrored into Kafka headers (DESIGN.md §3)."""
        return [
            ("event_type", self.event_type.encode()),
            ("event_id", str(self.event_id).encode()),
            ("correlation_id", self.correlation_id.encode()),
        ]
