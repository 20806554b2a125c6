"""Contracts: reading by type and version, upcasting, and what cannot be read."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from paht_shared.contracts import CONTRACTS, Contracts, EventData, UnreadableEvent, events
from paht_shared.contracts.dispatch import Event, dispatch
from paht_shared.envelope import Envelope


class ParcelV1(EventData):
    event_type = "test.parcel"
    schema_version = 1

    weight_grams: int


class ParcelV2(EventData):
    """v2 renamed the field and changed its unit: a breaking change, so a new version."""

    event_type = "test.parcel"
    schema_version = 2

    weight_kg: float
    fragile: bool


def grams_to_kg(data: dict[str, Any]) -> dict[str, Any]:
    return {"weight_kg": data["weight_grams"] / 1000, "fragile": False}


def contracts() -> Contracts:
    known = Contracts([ParcelV1, ParcelV2])
    known.register_upcaster("test.parcel", 1, grams_to_kg)
    return known


def test_a_v1_event_is_read_by_a_v2_consumer_through_its_upcaster() -> None:
    """The producer still sends v1; the consumer written for v2 gets a v2 model."""
    old = Envelope.of(ParcelV1(weight_grams=1500), "old-producer", "c")
    assert old.schema_version == 1
    assert contracts().read(old, ParcelV2) == ParcelV2(weight_kg=1.5, fragile=False)


def test_a_version_newer_than_the_consumer_or_without_upcaster_is_unreadable() -> None:
    """v2 data for a v1 consumer, or v1 data without a registered upcaster: UnreadableEvent, with the reason."""
    new = Envelope.of(ParcelV2(weight_kg=1, fragile=True), "p", "c")
    with pytest.raises(UnreadableEvent, match="newer than this consumer reads"):
        contracts().read(new, ParcelV1)
    old = Envelope.of(ParcelV1(weight_grams=1), "p", "c")
    with pytest.raises(UnreadableEvent, match=r"no upcaster for test\.parcel v1"):
        Contracts([ParcelV1, ParcelV2]).read(old, ParcelV2)


def test_invalid_data_is_unreadable_without_echoing_values() -> None:
    """A payload that fails validation names the field and the error type, never the value."""
    bad = Envelope(
        event_type="test.parcel",
        schema_version=1,
        producer="p",
        correlation_id="c",
        data={"weight_grams": "0912345678x"},
    )
    with pytest.raises(UnreadableEvent) as caught:
        contracts().read(bad, ParcelV1)
    assert "weight_grams:int_parsing" in caught.value.reason
    assert "0912345678" not in caught.value.reason


def test_every_published_model_is_registered_once_with_a_distinct_type_and_version() -> None:
    """The platform registry knows each payload model the services publish."""
    keys = [(m.event_type, m.schema_version) for m in events.PUBLISHED]
    assert len(keys) == len(set(keys))
    for model in events.PUBLISHED:
        assert CONTRACTS.knows(model.event_type)


async def test_dispatch_runs_the_handler_of_the_type_skips_known_others_and_refuses_strangers() -> None:
    """One topic may carry several types: the subscription handles its own, skips other known ones."""
    seen: list[ParcelV2] = []

    async def on_parcel(event: Event[ParcelV2], _conn: asyncpg.Connection) -> None:
        seen.append(event.data)

    class OtherV1(EventData):
        event_type = "test.other"

    known = contracts()
    known.register(OtherV1)
    handle = dispatch({ParcelV2: on_parcel}, known)
    conn: Any = None  # the handlers here do not touch the database
    await handle(Envelope.of(ParcelV1(weight_grams=250), "p", "c"), conn)
    await handle(Envelope.of(OtherV1(), "p", "c"), conn)
    assert seen == [ParcelV2(weight_kg=0.25, fragile=False)]
    stranger = Envelope(event_type="test.unheard_of", producer="p", correlation_id="c", data={"id": str(uuid.uuid4())})
    with pytest.raises(UnreadableEvent, match=r"unknown event type 'test\.unheard_of'"):
        await handle(stranger, conn)
