"""The province's office-hours calendar: when a report is officially received, and deadlines counted in office time.

Intake stamps every report with its reception time (`reception_time`); routing counts deadlines from it in
working days (`add_working_days`) or office hours (`add_office_hours`). Emergencies are not counted here: they run
on wall-clock time.

Public holidays come from the `holidays` package (Vietnam: Tết, Hùng Kings, 30/4, 1/5, Quốc khánh, observed and
substituted days, and the Saturdays worked in exchange). The government's yearly decisions that the package does
not know yet are configured: extra days off (`extra_days_off`) and make-up working days (`extra_working_days`).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo

import holidays

TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")

OfficePeriod = tuple[time, time]

DEFAULT_OFFICE_PERIODS: tuple[OfficePeriod, ...] = (
    (time(7, 0), time(11, 30)),
    (time(13, 30), time(17, 0)),
)

_HH_MM = re.compile(r"(\d{2}):(\d{2})")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONDAY_TO_FRIDAY = frozenset(range(5))


@functools.cache
def _package_days(year: int) -> tuple[frozenset[date], frozenset[date]]:
    """The package's days off and weekend days worked in exchange for `year`, built once per year per process.

    A `holidays` object costs milliseconds to build and its lookups do more work than a frozenset's, while
    `reception_time` runs on every submission. The neighbouring years are populated too because a swap decided
    in one year may move a day of the next (27/12/2014 was worked for 2/1/2015).
    """
    vn = holidays.country_holidays("VN", years=range(year - 1, year + 2))
    days_off = frozenset(d for d in vn if d.year == year)
    make_up_days = frozenset(d for d in vn.weekend_workdays if d.year == year)
    return days_off, make_up_days


@dataclass(frozen=True)
class OfficeCalendar:
    """Office periods of the working days, in Vietnam's time zone.

    A day is a working day when it is a configured extra working day, or else when it is not a configured extra
    day off, not a public holiday, and a Monday to Friday or a Saturday the package says is worked in exchange.
    Every working day has the same office periods; each period is half-open: at its end the office is closed.
    All methods take timezone-aware datetimes (naive ones are a ValueError) and answer in `TIMEZONE`.
    """

    office_periods: tuple[OfficePeriod, ...] = DEFAULT_OFFICE_PERIODS
    extra_days_off: frozenset[date] = frozenset()
    extra_working_days: frozenset[date] = frozenset()

    timezone: ClassVar[ZoneInfo] = TIMEZONE
    working_weekdays: ClassVar[frozenset[int]] = _MONDAY_TO_FRIDAY

    def __post_init__(self) -> None:
        if not self.office_periods:
            raise ValueError("at least one office period is needed")
        previous_end: time | None = None
        for start, end in self.office_periods:
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError("office periods are local times of day, without a time zone")
            if start >= end:
                raise ValueError(f"office period {start:%H:%M}-{end:%H:%M} ends before it starts")
            if previous_end is not None and start < previous_end:
                raise ValueError("office periods must be in order and must not overlap")
            previous_end = end
        for days in (self.extra_days_off, self.extra_working_days):
            # a datetime is a date too, but would never equal the dates looked up
            if any(isinstance(d, datetime) for d in days):
                raise ValueError("extra days are dates, not datetimes")
        if both := self.extra_days_off & self.extra_working_days:
            raise ValueError(f"configured both as a day off and as a working day: {sorted(both)}")

    @classmethod
    def from_settings(
        cls,
        office_hours: str = "07:00-11:30,13:30-17:00",
        extra_days_off: str = "",
        extra_working_days: str = "",
    ) -> OfficeCalendar:
        """Build from settings strings: "HH:MM-HH:MM,..." periods and "YYYY-MM-DD,..." dates (may be empty).

        Raises ValueError on anything malformed, so a bad setting stops the service at start-up.
        """
        periods = tuple(_parse_period(item) for item in _items(office_hours, "office_hours"))
        return cls(
            office_periods=periods,
            extra_days_off=frozenset(_parse_date(item) for item in _items(extra_days_off, "extra_days_off")),
            extra_working_days=frozenset(
                _parse_date(item) for item in _items(extra_working_days, "extra_working_days")
            ),
        )

    def is_working_day(self, d: date) -> bool:
        """True when the office opens on `d` (a local date in Vietnam)."""
        if d in self.extra_days_off:
            return False
        if d in self.extra_working_days:
            return True
        days_off, make_up_days = _package_days(d.year)
        if d in days_off:
            return False
        return d.weekday() in self.working_weekdays or d in make_up_days

    def reception_time(self, at: datetime) -> datetime:
        """`at` itself when the office is open then, otherwise the start of the next office period."""
        local = _local(at)
        day = local.date()
        if self.is_working_day(day):
            time_of_day = local.time()
            for start, end in self.office_periods:
                if time_of_day < start:
                    return datetime.combine(day, start, tzinfo=TIMEZONE)
                if time_of_day < end:
                    return local
        return datetime.combine(self._next_working_day(day), self.office_periods[0][0], tzinfo=TIMEZONE)

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The moment `days` working days after the reception of `start`, at the same time of day.

        "N ngày làm việc kể từ ngày tiếp nhận": the count starts from the reception moment
        (`reception_time(start)`), and the day of reception itself is not counted (Bộ luật Dân sự 2015, Điều 147:
        the first day of a period counted in days is not included). The deadline is the Nth working day after
        the reception day, at the reception's time of day: received Monday 10:00, one working day is Tuesday
        10:00; received Friday 16:55, one working day is Monday 16:55 (or the next working day after a holiday).
        Zero days is the reception moment itself.

        Because the reception moment always lies inside an office period and every working day has the same
        periods, that time of day is inside an office period of the deadline's day too: no clamping is needed.
        """
        if days < 0:
            raise ValueError("days must not be negative")
        received = self.reception_time(start)
        day = received.date()
        for _ in range(days):
            day = self._next_working_day(day)
        return datetime.combine(day, received.timetz())

    def add_office_hours(self, start: datetime, hours: float) -> datetime:
        """The moment when `hours` of office time have passed since the reception of `start`.

        Only time inside office periods counts: lunch breaks, nights, weekends and holidays do not. A deadline
        that uses up a period exactly ends at that period's end (17:00), not at the next period's start.
        """
        if not math.isfinite(hours) or hours < 0:
            raise ValueError("hours must be a finite, non-negative number")
        remaining = timedelta(hours=hours)
        received = self.reception_time(start)
        for period_start, period_end in self._periods_from(received):
            available = period_end - period_start
            if remaining <= available:
                return period_start + remaining
            remaining -= available
        raise AssertionError("unreachable: office periods never run out")

    def _next_working_day(self, day: date) -> date:
        """The first working day after `day`; there always is one, since days off are finite."""
        day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def _periods_from(self, received: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The office periods from the one containing `received` on, the first cut to begin at `received`.

        Adding a timedelta to these aware datetimes is wall-clock arithmetic, which is exact in Vietnam: no
        daylight saving time since 1975.
        """
        day = received.date()
        time_of_day = received.time()
        while True:
            for start, end in self.office_periods:
                if end <= time_of_day:
                    continue
                period_start = datetime.combine(day, max(start, time_of_day), tzinfo=TIMEZONE)
                yield period_start, datetime.combine(day, end, tzinfo=TIMEZONE)
            day = self._next_working_day(day)
            time_of_day = time.min


def _local(at: datetime) -> datetime:
    """`at` as a local time in Vietnam; a naive datetime is refused, since its moment is unknown."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("a timezone-aware datetime is required")
    return at.astimezone(TIMEZONE)


def _items(value: str, name: str) -> list[str]:
    """The comma-separated items of a setting; an empty setting has none, an empty item is an error."""
    if not value.strip():
        return []
    items = [item.strip() for item in value.split(",")]
    if "" in items:
        raise ValueError(f"{name}: empty item in {value!r}")
    return items


def _parse_period(item: str) -> OfficePeriod:
    start, sep, end = item.partition("-")
    if not sep:
        raise ValueError(f"office_hours: {item!r} is not HH:MM-HH:MM")
    return _parse_time(start.strip()), _parse_time(end.strip())


def _parse_time(text: str) -> time:
    match = _HH_MM.fullmatch(text)
    if match is None:
        raise ValueError(f"office_hours: {text!r} is not HH:MM")
    try:
        return time(int(match[1]), int(match[2]))
    except ValueError:
        raise ValueError(f"office_hours: {text!r} is not a time of day") from None


def _parse_date(text: str) -> date:
    # date.fromisoformat alone would also take "20270204" and week dates: settings use one spelling
    if _ISO_DATE.fullmatch(text) is None:
        raise ValueError(f"{text!r} is not a date YYYY-MM-DD")
    return date.fromisoformat(text)  # still raises ValueError for 2027-02-30
