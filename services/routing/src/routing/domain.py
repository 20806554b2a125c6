"""Pure routing rules and value objects: agencies, assignments, deadlines in working days. No I/O."""

from __future__ import annotations

import uuid
from collections.abc import Set
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict


class Agency(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    name: str
    email: str | None


class AssignmentView(BaseModel):
    """One report in an agency's work list."""

    model_config = ConfigDict(frozen=True)

    report_id: uuid.UUID
    category: str
    ward_code: str | None
    title: str | None
    triage: bool
    status: str
    assigned_at: datetime
    due_at: datetime


def add_working_days(start: date, days: int, holidays: Set[date]) -> date:
    """The date `days` working days after `start` (weekends and holidays do not count)."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5 and current not in holidays:
            remaining -= 1
    return current


def answer_deadline(received_at: datetime, sla_days: int, holidays: Set[date], tz: str, close_hour: int) -> datetime:
    """Close of business on the last working day of the answer period, in the province's time zone."""
    local = received_at.astimezone(ZoneInfo(tz))
    last_day = add_working_days(local.date(), sla_days, holidays)
    return datetime.combine(last_day, time(close_hour), tzinfo=ZoneInfo(tz))
