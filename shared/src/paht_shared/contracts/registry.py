"""Reading events: which model a type and version maps to, and the upcasters from older versions."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pydantic import ValidationError

from paht_shared.contracts.base import EventData
from paht_shared.contracts.events import PUBLISHED
from paht_shared.envelope import Envelope

E = TypeVar("E", bound=EventData)
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UnreadableEvent(Exception):
    """The event itself is the problem (unknown type, a version this consumer cannot read, invalid data).

    Retrying cannot help: the consumer dead-letters it at once with `reason` and moves on.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Contracts:
    """The event types a process knows, by (type, version), and how to lift an old version to the next."""

    def __init__(self, models: Iterable[type[EventData]] = ()) -> None:
        self._models: dict[tuple[str, int], type[EventData]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        for model in models:
            self.register(model)

    def register(self, model: type[EventData]) -> None:
        self._models[(model.event_type, model.schema_version)] = model

    def register_upcaster(self, event_type: str, from_version: int, upcast: Upcaster) -> None:
        """`upcast` turns the data of `from_version` into the data of `from_version + 1`."""
        self._upcasters[(event_type, from_version)] = upcast

    def knows(self, event_type: str) -> bool:
        return any(known == event_type for known, _ in self._models)

    def read(self, envelope: Envelope, model: type[E]) -> E:
        """The envelope's data as `model`, upcast from an older version first."""
        if envelope.event_type != model.event_type:
            raise UnreadableEvent(f"expected {model.event_type}, got {_shown(envelope.event_type)}")
        version = envelope.schema_version
        if version > model.schema_version:
            raise UnreadableEvent(
                f"{model.event_type} v{version} is newer than this consumer reads (v{model.schema_version})"
            )
        data = dict(envelope.data)
        while version < model.schema_version:
            upcast = self._upcasters.get((model.event_type, version))
            if upcast is None:
                raise UnreadableEvent(f"no upcaster for {model.event_type} v{version}")
            data = upcast(data)
            version += 1
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            # field names and error types only: the values could be anything a foreign producer sent
            fields = sorted({".".join(str(p) for p in e["loc"]) + ":" + e["type"] for e in exc.errors()})
            raise UnreadableEvent(f"invalid {model.event_type} v{model.schema_version}: {', '.join(fields)}") from None


def _shown(event_type: str) -> str:
    return repr(event_type[:100])


# The platform's contracts. Tests make their own Contracts to try upcasters without touching this one.
CONTRACTS = Contracts(PUBLISHED)
