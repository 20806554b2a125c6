"""The office-hours calendar: reception time of a report and deadlines in working days or office hours, on real dates.

What `holidays` 0.108 lists for Vietnam around Tết, which these tests rely on:
- Tết 2026 (Lunar New Year on Tue 17/2): Mon 16/2 to Fri 20/2, so the office is closed Sat 14/2 to Sun 22/2.
- Tết 2027 (Lunar New Year on Sat 6/2): Thu 4/2 (29 Tết) to Wed 10/2, the 29th and the 5th day being the days
  given for Tết's Saturday and Sunday. The last working Friday before it is 29/1, then Mon 1/2 to Wed 3/2 are
  worked: the last working day before Tết 2027 is Wed 3/2, the first after it Thu 11/2.
- 2026: Mon 31/8 is a day off, worked on Sat 22/8 instead.
The package already has every Tết 2027 day, so no extra day off is configured for it here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paht_shared.calendar import TIMEZONE, OfficeCalendar

CALENDAR = OfficeCalendar()

# no example database: nothing is written into the work tree, and each run draws afresh
property_settings = settings(database=None, deadline=None)


def vn(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A moment in Vietnam's time zone."""
    return datetime(year, month, day, hour, minute, tzinfo=TIMEZONE)


# --- reception time -------------------------------------------------------------------------------------------


def test_an_ordinary_tuesday_morning_is_received_at_once() -> None:
    """Tuesday 9/3/2027 10:00 is inside the morning period: the report is received at that very moment."""
    at = vn(2027, 3, 9, 10, 0)
    assert CALENDAR.reception_time(at) == at
    assert CALENDAR.reception_time(at).tzinfo is TIMEZONE


def test_the_evening_before_tet_is_received_on_the_first_working_day_after_it() -> None:
    """Wed 3/2/2027 is the last working day before Tết 2027: after 17:00 the report waits for Thu 11/2 at 07:00."""
    assert CALENDAR.reception_time(vn(2027, 2, 3, 17, 5)) == vn(2027, 2, 11, 7, 0)
    # a moment during Tết itself goes to the same opening
    assert CALENDAR.reception_time(vn(2027, 2, 6, 10, 0)) == vn(2027, 2, 11, 7, 0)


def test_the_friday_evening_before_tet_2026_is_received_after_the_nine_days_off() -> None:
    """Fri 13/2/2026 is the last working day before Tết 2026 (Sat 14/2 to Sun 22/2 off): received Mon 23/2 07:00."""
    assert CALENDAR.reception_time(vn(2026, 2, 13, 17, 30)) == vn(2026, 2, 23, 7, 0)


def test_friday_1658_before_tet_2027_is_still_office_time() -> None:
    """Fri 29/1/2027 16:58 is two minutes before closing: received at once; after 17:00 it waits for Mon 1/2."""
    at = vn(2027, 1, 29, 16, 58)
    assert CALENDAR.reception_time(at) == at
    # Mon 1/2 to Wed 3/2 are worked before Tết 2027 begins on Thu 4/2
    assert CALENDAR.reception_time(vn(2027, 1, 29, 17, 0)) == vn(2027, 2, 1, 7, 0)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (vn(2027, 3, 9, 6, 0), vn(2027, 3, 9, 7, 0)),  # before opening
        (vn(2027, 3, 9, 7, 0), vn(2027, 3, 9, 7, 0)),  # the opening minute itself
        (vn(2027, 3, 9, 11, 30), vn(2027, 3, 9, 13, 30)),  # the end of a period is closed
        (vn(2027, 3, 9, 12, 0), vn(2027, 3, 9, 13, 30)),  # lunch break
        (vn(2027, 3, 9, 17, 0), vn(2027, 3, 10, 7, 0)),  # closing time
        (vn(2027, 3, 9, 21, 15), vn(2027, 3, 10, 7, 0)),  # evening
        (vn(2027, 3, 13, 9, 0), vn(2027, 3, 15, 7, 0)),  # Saturday: Monday morning
        (vn(2027, 3, 14, 23, 59), vn(2027, 3, 15, 7, 0)),  # Sunday night
        (vn(2027, 3, 12, 17, 45), vn(2027, 3, 15, 7, 0)),  # Friday evening: Monday morning
    ],
    ids=["early", "opening", "11:30", "lunch", "17:00", "evening", "saturday", "sunday-night", "friday-evening"],
)
def test_outside_office_hours_a_report_waits_for_the_next_period(at: datetime, expected: datetime) -> None:
    """Lunch break to 13:30 the same day, nights and weekends to 07:00 of the next working day."""
    assert CALENDAR.reception_time(at) == expected


def test_a_moment_given_in_utc_is_answered_in_vietnam_time() -> None:
    """23:30 UTC on Monday is 06:30 on Tuesday in Vietnam: received Tuesday 07:00, with Vietnam's tzinfo."""
    received = CALENDAR.reception_time(datetime(2027, 3, 8, 23, 30, tzinfo=UTC))
    assert received == vn(2027, 3, 9, 7, 0)
    assert received.tzinfo is TIMEZONE
    assert CALENDAR.reception_time(datetime(2027, 3, 9, 3, 0, tzinfo=UTC)) == vn(2027, 3, 9, 10, 0)


def test_an_extra_working_saturday_receives_reports() -> None:
    """A configured make-up Saturday opens like a weekday; the package's own make-up Saturday (22/8/2026) too."""
    saturday = date(2027, 3, 13)
    calendar = OfficeCalendar(extra_working_days=frozenset({saturday}))
    assert calendar.is_working_day(saturday)
    assert calendar.reception_time(vn(2027, 3, 12, 18, 0)) == vn(2027, 3, 13, 7, 0)
    assert calendar.reception_time(vn(2027, 3, 13, 9, 0)) == vn(2027, 3, 13, 9, 0)
    assert not CALENDAR.is_working_day(saturday)
    # 2026: Mon 31/8 off (with Tue 1/9 and Wed 2/9 for Quốc khánh), worked on Sat 22/8 instead
    assert CALENDAR.is_working_day(date(2026, 8, 22))
    assert not CALENDAR.is_working_day(date(2026, 8, 31))
    assert CALENDAR.reception_time(vn(2026, 8, 21, 17, 30)) == vn(2026, 8, 22, 7, 0)
    assert CALENDAR.reception_time(vn(2026, 8, 28, 17, 30)) == vn(2026, 9, 3, 7, 0)


def test_an_extra_day_off_is_skipped() -> None:
    """A configured day off (say the province closes Thu 11/2/2027 too) moves reception to the next working day."""
    calendar = OfficeCalendar.from_settings(extra_days_off="2027-02-11")
    assert not calendar.is_working_day(date(2027, 2, 11))
    assert calendar.reception_time(vn(2027, 2, 3, 17, 5)) == vn(2027, 2, 12, 7, 0)
    assert calendar.reception_time(vn(2027, 2, 11, 9, 0)) == vn(2027, 2, 12, 7, 0)


def test_public_holidays_are_not_working_days() -> None:
    """New Year, every Tết 2027 day, 30/4, 2/9 and 24/11 are closed; the ordinary days around Tết are open."""
    for day in [date(2027, 1, 1), date(2027, 4, 30), date(2027, 9, 2), date(2027, 11, 24)]:
        assert not CALENDAR.is_working_day(day), day
    tet = [date(2027, 2, 4) + timedelta(days=n) for n in range(7)]
    assert not any(CALENDAR.is_working_day(day) for day in tet)
    assert CALENDAR.is_working_day(date(2027, 2, 3))
    assert CALENDAR.is_working_day(date(2027, 2, 11))


# --- deadlines in working days --------------------------------------------------------------------------------


def test_working_days_skip_the_weekend() -> None:
    """Friday 12/3/2027 10:00 plus one working day is Monday 15/3 10:00."""
    assert CALENDAR.add_working_days(vn(2027, 3, 12, 10, 0), 1) == vn(2027, 3, 15, 10, 0)


def test_working_days_skip_tet() -> None:
    """Wednesday 3/2/2027 10:00 plus one working day is Thursday 11/2 10:00, the first day after Tết."""
    assert CALENDAR.add_working_days(vn(2027, 2, 3, 10, 0), 1) == vn(2027, 2, 11, 10, 0)


def test_five_working_days_from_1655() -> None:
    """Received Tue 9/3/2027 16:55: due Tue 16/3 16:55; received Thu 28/1 16:55, Tết makes it Thu 11/2 16:55."""
    assert CALENDAR.add_working_days(vn(2027, 3, 9, 16, 55), 5) == vn(2027, 3, 16, 16, 55)
    # 29/1, 1/2, 2/2, 3/2, then Tết, then 11/2
    assert CALENDAR.add_working_days(vn(2027, 1, 28, 16, 55), 5) == vn(2027, 2, 11, 16, 55)


def test_working_days_count_from_the_reception_moment() -> None:
    """A report sent Saturday is received Monday 07:00: one working day later is Tuesday 07:00; zero is Monday."""
    assert CALENDAR.add_working_days(vn(2027, 3, 13, 9, 0), 1) == vn(2027, 3, 16, 7, 0)
    assert CALENDAR.add_working_days(vn(2027, 3, 13, 9, 0), 0) == vn(2027, 3, 15, 7, 0)
    assert CALENDAR.add_working_days(vn(2027, 3, 9, 12, 0), 2) == vn(2027, 3, 11, 13, 30)  # lunch: from 13:30


# --- deadlines in office hours --------------------------------------------------------------------------------


def test_office_hours_skip_the_lunch_break() -> None:
    """Tuesday 11:00 plus one office hour: 30 minutes before lunch, 30 after, so 14:00."""
    assert CALENDAR.add_office_hours(vn(2027, 3, 9, 11, 0), 1) == vn(2027, 3, 9, 14, 0)


def test_office_hours_skip_the_night() -> None:
    """Tuesday 16:00 plus two office hours: one before closing, one from Wednesday 07:00, so 08:00."""
    assert CALENDAR.add_office_hours(vn(2027, 3, 9, 16, 0), 2) == vn(2027, 3, 10, 8, 0)


def test_office_hours_that_use_up_a_period_end_at_its_end() -> None:
    """Tuesday 16:00 plus one hour is 17:00 that day, not 07:00 the next morning."""
    assert CALENDAR.add_office_hours(vn(2027, 3, 9, 16, 0), 1) == vn(2027, 3, 9, 17, 0)
    assert CALENDAR.add_office_hours(vn(2027, 3, 9, 16, 0), 0) == vn(2027, 3, 9, 16, 0)


def test_office_hours_count_from_the_reception_moment_and_skip_tet() -> None:
    """Saturday 9:00 plus 1.5 h is Monday 08:30; Wed 3/2/2027 16:58 plus 30 min is Thu 11/2 07:28."""
    assert CALENDAR.add_office_hours(vn(2027, 3, 13, 9, 0), 1.5) == vn(2027, 3, 15, 8, 30)
    assert CALENDAR.add_office_hours(vn(2027, 2, 3, 16, 58), 0.5) == vn(2027, 2, 11, 7, 28)


def test_a_day_of_office_hours_is_eight_hours() -> None:
    """Eight office hours (4.5 + 3.5) from Monday 07:00 end Monday 17:00; 40 hours end Friday 17:00."""
    assert CALENDAR.add_office_hours(vn(2027, 3, 8, 7, 0), 8) == vn(2027, 3, 8, 17, 0)
    assert CALENDAR.add_office_hours(vn(2027, 3, 8, 7, 0), 40) == vn(2027, 3, 12, 17, 0)


# --- refusals -------------------------------------------------------------------------------------------------


def test_a_naive_datetime_is_refused() -> None:
    """Without a time zone the moment is unknown: every method refuses it."""
    naive = datetime(2027, 3, 9, 10, 0)  # naive on purpose: that is what is refused
    with pytest.raises(ValueError, match="timezone-aware"):
        CALENDAR.reception_time(naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        CALENDAR.add_working_days(naive, 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        CALENDAR.add_office_hours(naive, 1)


@pytest.mark.parametrize("days", [-1])
def test_negative_working_days_are_refused(days: int) -> None:
    """A deadline is never before its reception."""
    with pytest.raises(ValueError, match="negative"):
        CALENDAR.add_working_days(vn(2027, 3, 9, 10, 0), days)


@pytest.mark.parametrize("hours", [-0.5, float("nan"), float("inf")])
def test_negative_or_non_finite_office_hours_are_refused(hours: float) -> None:
    """A negative, NaN or infinite duration has no deadline."""
    with pytest.raises(ValueError, match="finite, non-negative"):
        CALENDAR.add_office_hours(vn(2027, 3, 9, 10, 0), hours)


@pytest.mark.parametrize(
    "office_hours",
    [
        "",  # no office time at all: nothing could ever be received
        "7:00-11:30",
        "07:00-11:30;13:30-17:00",
        "07:00",
        "07:00-11:30,",
        "07:00-11:30-13:30",
        "11:30-07:00",
        "07:00-07:00",
        "24:00-25:00",
        "07:00-12:00,11:00-17:00",  # overlapping
        "13:30-17:00,07:00-11:30",  # out of order
        "07h00-11h30",
    ],
)
def test_bad_office_hours_settings_are_refused(office_hours: str) -> None:
    """Malformed, empty, inverted, overlapping or unordered periods stop the service at start-up."""
    with pytest.raises(ValueError, match=r"\S"):
        OfficeCalendar.from_settings(office_hours=office_hours)


@pytest.mark.parametrize("days", ["2027-02-30", "20270204", "2027/02/04", "04-02-2027", "2027-02-04,,2027-02-05"])
def test_bad_extra_day_settings_are_refused(days: str) -> None:
    """A date that does not exist or is spelt other than YYYY-MM-DD is refused in either list."""
    with pytest.raises(ValueError, match=r"\S"):
        OfficeCalendar.from_settings(extra_days_off=days)
    with pytest.raises(ValueError, match=r"\S"):
        OfficeCalendar.from_settings(extra_working_days=days)


def test_a_day_both_off_and_worked_is_refused() -> None:
    """The same date in both lists is a contradiction, not a precedence question."""
    with pytest.raises(ValueError, match="both"):
        OfficeCalendar.from_settings(extra_days_off="2027-03-13", extra_working_days="2027-03-13")


def test_settings_are_parsed() -> None:
    """Spaces around items are allowed; empty lists are empty; the default is 07:00-11:30 and 13:30-17:00."""
    calendar = OfficeCalendar.from_settings(
        office_hours=" 07:30-11:30 , 13:00-16:30 ",
        extra_days_off="2027-02-04, 2027-02-05",  # already package holidays: configuring them again is harmless
        extra_working_days="",
    )
    assert calendar.office_periods == ((time(7, 30), time(11, 30)), (time(13, 0), time(16, 30)))
    assert calendar.extra_days_off == frozenset({date(2027, 2, 4), date(2027, 2, 5)})
    assert calendar.extra_working_days == frozenset()
    assert OfficeCalendar.from_settings() == OfficeCalendar()
    assert calendar.reception_time(vn(2027, 2, 3, 16, 45)) == vn(2027, 2, 11, 7, 30)


# --- properties -----------------------------------------------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(2025, 1, 1),  # hypothesis takes naive bounds and adds the zones
    max_value=datetime(2029, 12, 31),
    timezones=st.sampled_from([TIMEZONE, UTC, timezone(timedelta(hours=-5))]),
)


def in_office_period(calendar: OfficeCalendar, moment: datetime) -> bool:
    """True when `moment` is inside an office period of a working day."""
    local = moment.astimezone(TIMEZONE)
    return calendar.is_working_day(local.date()) and any(
        start <= local.time() < end for start, end in calendar.office_periods
    )


@property_settings
@given(at=moments)
def test_reception_is_the_first_office_moment_not_before_the_report(at: datetime) -> None:
    """Never earlier, always in office time, the moment itself or a period's start, and stable when repeated."""
    received = CALENDAR.reception_time(at)
    assert received >= at
    assert received.tzinfo is TIMEZONE
    assert in_office_period(CALENDAR, received)
    if received != at:
        assert not in_office_period(CALENDAR, at)
        assert received.time() in {start for start, _ in CALENDAR.office_periods}
    assert CALENDAR.reception_time(received) == received


@property_settings
@given(at=moments, first=st.integers(0, 30), second=st.integers(0, 30))
def test_working_days_add_up(at: datetime, first: int, second: int) -> None:
    """N + M working days is N working days then M more, and each deadline lies in office time."""
    direct = CALENDAR.add_working_days(at, first + second)
    assert direct == CALENDAR.add_working_days(CALENDAR.add_working_days(at, first), second)
    assert in_office_period(CALENDAR, direct)


@property_settings
@given(at=moments, first=st.integers(0, 60 * 40), second=st.integers(0, 60 * 40))
def test_office_hours_add_up(at: datetime, first: int, second: int) -> None:
    """N + M office minutes is N then M more, and the deadline is never before the reception."""
    direct = CALENDAR.add_office_hours(at, (first + second) / 60)
    stepwise = CALENDAR.add_office_hours(CALENDAR.add_office_hours(at, first / 60), second / 60)
    if second > 0:
        assert direct == stepwise
    else:
        # a deadline that uses up a period ends at its end (17:00); counting on from there starts at the next
        # period's start (07:00): the same office moment
        assert CALENDAR.reception_time(direct) == stepwise
    assert direct >= CALENDAR.reception_time(at)
