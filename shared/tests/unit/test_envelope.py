"""The event envelope."""

from __future__ import annotations

from paht_shared.envelope import Envelope


def test_round_trip_and_headers_mirror_ids() -> None:
    """Serialised and parsed back unchanged; type, id and correlation id are mirrored into headers."""
    event = Envelope(event_type="report.submitted.v1", producer="intake", correlation_id="c-1", data={"report_id": "r"})
    assert Envelope.from_bytes(event.to_bytes()) == event
    headers = dict(event.kafka_headers())
    assert headers == {
        "event_type": b"report.submitted.v1",
        "event_id": str(event.event_id).encode(),
        "correlation_id": b"c-1",
    }


def test_caused_event_keeps_correlation_and_points_to_its_cause() -> None:
    """A follow-up event carries the same correlation id and the cause's event id."""
    cause = Envelope(event_type="a", producer="p", correlation_id="c-9", data={})
    effect = cause.caused("b", "q", {"x": 1})
    assert effect.correlation_id == "c-9"
    assert effect.causation_id == str(cause.event_id)
    assert effect.event_id != cause.event_id
