"""Answer deadlines on the province's calendar, on known dates."""

from __future__ import annotations

from datetime import datetime

import pytest

from paht_shared.calendar import OfficeCalendar
from paht_shared.contracts import ReportStatus
from routing.domain import Action, Deadlines, IllegalTransition, check_transition

VN = "+07:00"
DEADLINES = Deadlines(OfficeCalendar.from_settings(), urgent_working_days=2, emergency_hours=4)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text + VN)


def test_five_working_days_from_the_friday_before_tet() -> None:
    """Received Friday 13 Feb 2026 at 09:00, the last working day before Tết (14–22 Feb off): five working
    days are 23, 24, 25, 26 and 27 Feb, so the answer is due Friday 27 Feb at 09:00."""
    friday = at("2026-02-13T09:00:00")
    assert DEADLINES.answer_due(friday, friday, 5, emergency=False) == at("2026-02-27T09:00:00")


def test_received_at_1655_on_a_weekday() -> None:
    """Received Tuesday 1 Dec 2026 at 16:55 (inside office hours): 5 working days later, same time —
    Tuesday 8 Dec at 16:55."""
    tuesday = at("2026-12-01T16:55:00")
    assert DEADLINES.answer_due(tuesday, tuesday, 5, emergency=False) == at("2026-12-08T16:55:00")


def test_a_report_sent_in_the_evening_counts_from_the_next_morning() -> None:
    """Sent Tuesday 19:00: reception is Wednesday 07:00, the deadline 5 working days later at 07:00."""
    sent = at("2026-12-01T19:00:00")
    received = DEADLINES.calendar.reception_time(sent)
    assert DEADLINES.answer_due(received, sent, 5, emergency=False) == at("2026-12-09T07:00:00")


def test_an_emergency_at_night_has_four_clock_hours() -> None:
    """An emergency called in Saturday 23:30 is due Sunday 03:30: nights and weekends count."""
    sent = at("2026-11-28T23:30:00")
    received = DEADLINES.calendar.reception_time(sent)  # Monday morning, ignored for emergencies
    assert DEADLINES.answer_due(received, sent, 5, emergency=True) == at("2026-11-29T03:30:00")


def test_urgent_reports_get_fewer_days_and_extensions_add_working_days() -> None:
    """Urgent: at most 2 working days; an extension of 3 working days skips the weekend."""
    assert DEADLINES.urgent_or(10, urgent=True) == 2
    assert DEADLINES.urgent_or(10, urgent=False) == 10
    assert DEADLINES.extended(at("2026-12-04T10:00:00"), 3) == at("2026-12-09T10:00:00")


@pytest.mark.parametrize(
    ("action", "status", "code"),
    [
        (Action.ACCEPT, ReportStatus.IN_PROGRESS, "already_accepted"),
        (Action.ANSWER, ReportStatus.ASSIGNED, "not_accepted"),
        (Action.ANSWER, ReportStatus.ANSWERED, "report_closed"),
        (Action.RETURN, ReportStatus.CLOSED, "report_closed"),
        (Action.REQUEST_INFO, ReportStatus.ASSIGNED, "illegal_transition"),
    ],
)
def test_illegal_transitions_have_their_codes(action: Action, status: ReportStatus, code: str) -> None:
    """Accepting twice, answering before accepting or after the end: each refusal names itself."""
    with pytest.raises(IllegalTransition) as info:
        check_transition(action, status)
    assert info.value.code == code
