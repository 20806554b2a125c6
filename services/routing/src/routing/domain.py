"""Pure routing rules and value objects: agencies, the lifecycle of a report's handling, deadlines. No I/O."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from paht_shared.calendar import OfficeCalendar
from paht_shared.contracts import ReportStatus


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


# A report is "open" while an agency still owes the citizen an answer.
OPEN = frozenset({ReportStatus.ASSIGNED, ReportStatus.IN_PROGRESS, ReportStatus.NEEDS_INFO, ReportStatus.REOPENED})
# The deadline runs in these (it is paused while the citizen is asked for more information).
RUNNING = frozenset({ReportStatus.ASSIGNED, ReportStatus.IN_PROGRESS, ReportStatus.REOPENED})


class Action(StrEnum):
    ACCEPT = "accept"
    RETURN = "return"
    REQUEST_INFO = "request_info"
    REQUEST_EXTENSION = "request_extension"
    UPDATE = "update"
    CONTRIBUTE = "contribute"
    ANSWER = "answer"
    REJECT = "reject"
    REASSIGN = "reassign"
    MERGE = "merge"
    DECIDE_EXTENSION = "decide_extension"


_ALLOWED_FROM: dict[Action, frozenset[ReportStatus]] = {
    Action.ACCEPT: frozenset({ReportStatus.ASSIGNED, ReportStatus.REOPENED}),
    Action.RETURN: RUNNING,
    Action.REQUEST_INFO: frozenset({ReportStatus.IN_PROGRESS}),
    Action.REQUEST_EXTENSION: OPEN,
    Action.UPDATE: frozenset({ReportStatus.IN_PROGRESS}),
    Action.CONTRIBUTE: OPEN,
    Action.ANSWER: frozenset({ReportStatus.IN_PROGRESS}),  # accepted first: someone owns the answer
    Action.REJECT: OPEN,
    Action.REASSIGN: OPEN,
    Action.MERGE: OPEN,
    Action.DECIDE_EXTENSION: OPEN,
}

# Why an agency may refuse to handle a report (the citizen reads the reason; the code is for statistics).
REJECT_REASONS: dict[str, str] = {
    "out_of_scope": "Nội dung không thuộc phạm vi tiếp nhận phản ánh hiện trường.",
    "duplicate": "Trùng với một phản ánh đã được tiếp nhận.",
    "offensive": "Nội dung có lời lẽ xúc phạm hoặc không phù hợp.",
    "other_channel": "Là khiếu nại, tố cáo: cần gửi theo kênh giải quyết khiếu nại, tố cáo theo quy định.",
}


class IllegalTransition(Exception):
    """The action does not apply to the report in its current state (a 409 with `code`)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def check_transition(action: Action, status: ReportStatus) -> None:
    if status in _ALLOWED_FROM[action]:
        return
    if action is Action.ACCEPT and status in (ReportStatus.IN_PROGRESS, ReportStatus.NEEDS_INFO):
        raise IllegalTransition("already_accepted")
    if action is Action.ANSWER and status in (ReportStatus.ASSIGNED, ReportStatus.REOPENED):
        raise IllegalTransition("not_accepted")
    if status not in OPEN:
        raise IllegalTransition("report_closed")
    raise IllegalTransition("illegal_transition")


@dataclass(frozen=True)
class Deadlines:
    """Answer deadlines on the province's calendar.

    Ordinary and urgent reports get N working days counted from the official reception (the N-th working day
    after it, at the same time of day); emergencies, which the hotline receives 24/7, get clock hours from
    the moment they arrived, night or not.
    """

    calendar: OfficeCalendar
    urgent_working_days: int
    emergency_hours: int

    def answer_due(self, received_at: datetime, submitted_at: datetime, working_days: int, emergency: bool) -> datetime:
        if emergency:
            return submitted_at + timedelta(hours=self.emergency_hours)
        return self.calendar.add_working_days(received_at, working_days)

    def urgent_or(self, working_days: int, urgent: bool) -> int:
        return min(working_days, self.urgent_working_days) if urgent else working_days

    def extended(self, due_at: datetime, working_days: int) -> datetime:
        return self.calendar.add_working_days(due_at, working_days)

    def due_soon(self, due_at: datetime, now: datetime, working_days: int) -> bool:
        """Whether the deadline falls within the next `working_days` working days."""
        return now < due_at <= self.calendar.add_working_days(now, working_days)


class Assignment(BaseModel):
    """A report as routing holds it: who leads it, its deadline and where its handling stands."""

    model_config = ConfigDict(frozen=True)

    report_id: uuid.UUID
    tracking_code: str | None
    agency_code: str
    co_agencies: list[str]
    category: str
    ward_code: str | None
    area_code: str | None
    title: str | None
    content: str | None
    address_text: str | None
    public: bool
    anonymous: bool
    identity_shared: bool
    emergency: bool
    triage: bool
    status: ReportStatus
    status_sequence: int
    received_at: datetime | None
    assigned_at: datetime
    accepted_at: datetime | None
    due_at: datetime
    paused_at: datetime | None
    extension_days: int | None
    extension_reason: str | None
    extension_state: str | None
    overdue_at: datetime | None
    answer_text: str | None
    answer_media_ids: list[uuid.UUID]
    answered_at: datetime | None
    reject_reason_code: str | None
    merged_into: uuid.UUID | None
    returned_by: list[str]
    reopen_count: int
    updated_at: datetime
    media_ids: list[uuid.UUID]

    @property
    def overdue(self) -> bool:
        return self.overdue_at is not None and self.status in OPEN

    def involves(self, agency: str) -> bool:
        """The lead agency or one of the co-processing agencies."""
        return agency == self.agency_code or agency in self.co_agencies


@dataclass(frozen=True)
class Actor:
    """Who changes a report: a staff member (from their token), the citizen, or routing itself."""

    subject: str
    role: str
    agency: str | None = None


SYSTEM = Actor("routing", "system")
CITIZEN = Actor("citizen", "citizen")
