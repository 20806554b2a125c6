"""Answer deadlines in working days."""

from __future__ import annotations

from datetime import UTC, date, datetime

from routing.domain import add_working_days, answer_deadline


def test_weekends_and_holidays_do_not_count() -> None:
    """Friday + 1 working day is Monday; a holiday Monday pushes it to Tuesday."""
    friday = date(2026, 11, 27)
    assert add_working_days(friday, 1, set()) == date(2026, 11, 30)
    assert add_working_days(friday, 1, {date(2026, 11, 30)}) == date(2026, 12, 1)
    assert add_working_days(friday, 0, set()) == friday


def test_tet_holidays_stretch_the_deadline() -> None:
    """Five working days from the Friday before Tết 2026 skip the whole Tết week."""
    tet = {date(2026, 2, d) for d in range(16, 21)}
    assert add_working_days(date(2026, 2, 13), 5, tet) == date(2026, 2, 27)


def test_deadline_is_close_of_business_local_time() -> None:
    """A report received Saturday night UTC gets a deadline at 17:00 in Vietnam on the last working day."""
    received = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)  # Sunday 03:00 in Vietnam
    due = answer_deadline(received, 7, set(), "Asia/Ho_Chi_Minh", 17)
    assert due.isoformat() == "2026-12-08T17:00:00+07:00"
