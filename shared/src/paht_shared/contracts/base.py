"""What every event payload is: a frozen pydantic model that names its event type and schema version."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class EventData(BaseModel):
    """The `data` of an envelope. Producers construct one; consumers receive one.

    extra="ignore": a producer may add a field (an additive change keeps the version) and older consumers
    still read the event. A breaking change is a new class with the next `schema_version` and an upcaster.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
