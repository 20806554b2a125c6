"""Typed handlers for the consumer runner: dispatch on `event_type`, upcast, validate, then handle."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg

from paht_shared.contracts.base import EventData
from paht_shared.contracts.registry import CONTRACTS, Contracts, UnreadableEvent
from paht_shared.envelope import Envelope

D = TypeVar("D", bound=EventData)


@dataclass(frozen=True)
class Event(Generic[D]):
    """A received event: its envelope (ids, correlation) and its typed data."""

    envelope: Envelope
    data: D

    @property
    def event_id(self) -> uuid.UUID:
        return self.envelope.event_id

    def caused(self, payload: EventData, producer: str) -> Envelope:
        """A follow-up event: same correlation, caused by this one."""
        return Envelope.of(payload, producer, self.envelope.correlation_id, causation_id=str(self.envelope.event_id))


TypedHandler = Callable[[Event[Any], asyncpg.Connection], Awaitable[None]]


class Dispatch:
    """One subscription's handler: the model for the event's type, upcast from older versions, then its handler.

    A type the platform knows but this subscription does not handle is skipped (a topic may carry several
    types); a type nobody knows, a newer version or invalid data raise UnreadableEvent (dead-lettered).
    """

    def __init__(self, handlers: Mapping[type[EventData], TypedHandler], contracts: Contracts = CONTRACTS) -> None:
        self._by_type = {model.event_type: (model, handle) for model, handle in handlers.items()}
        self._contracts = contracts

    @property
    def models(self) -> tuple[type[EventData], ...]:
        """What this consumer reads: contract tests check that producers' events fit these models."""
        return tuple(model for model, _ in self._by_type.values())

    async def __call__(self, envelope: Envelope, conn: asyncpg.Connection) -> None:
        entry = self._by_type.get(envelope.event_type)
        if entry is None:
            if self._contracts.knows(envelope.event_type):
                return
            raise UnreadableEvent(f"unknown event type {envelope.event_type[:100]!r}")
        model, typed = entry
        await typed(Event(envelope, self._contracts.read(envelope, model)), conn)


def dispatch(handlers: Mapping[type[EventData], TypedHandler], contracts: Contracts = CONTRACTS) -> Dispatch:
    return Dispatch(handlers, contracts)
