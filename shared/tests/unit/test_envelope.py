"""The event envelope."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from paht_shared.contracts import NotificationSentV1
from paht_shared.contracts.dispatch import Event
from paht_shared.envelope import Envelope


def sent() -> NotificationSentV1:
    return NotificationSentV1(
        delivery_id=uuid.uuid4(), report_id=uuid.uuid4(), channel="email", audience="agency", sent_at=datetime.now(UTC)
    )


def test_round_trip_and_headers_mirror_ids() -> None:
    """Serialised and parsed back unchanged; type, id and correlation id are mirrored into headers."""
    event = Envelope.of(sent(), "notify", "c-1")
    assert Envelope.from_bytes(event.to_bytes()) == event
    headers = dict(event.kafka_headers())
    assert headers == {
        "event_type": b"notification.sent",
        "event_id": str(event.event_id).encode(),
        "correlation_id": b"c-1",
    }


def test_type_and_version_come_from_the_payload_model() -> None:
    """Producers never spell a type or a version: the contract model carries both."""
    event = Envelope.of(sent(), "notify", "c-1")
    assert (event.event_type, event.schema_version) == ("notification.sent", 1)
    assert NotificationSentV1.model_validate(event.data) == NotificationSentV1.model_validate(event.data)


def test_caused_event_keeps_correlation_and_points_to_its_cause() -> None:
    """A follow-up event carries the same correlation id and the cause's event id."""
    cause = Envelope.of(sent(), "notify", "c-9")
    effect = Event(cause, sent()).caused(sent(), "q")
    assert effect.correlation_id == "c-9"
    assert effect.causation_id == str(cause.event_id)
    assert effect.event_id != cause.event_id
