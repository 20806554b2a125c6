"""When an agency's digest is due: the start of the current period, on Vietnam's clock."""

from __future__ import annotations

from datetime import datetime

from notify.digests import period_start


def at(text: str) -> datetime:
    return datetime.fromisoformat(text + "+07:00")


def test_hourly_digests_start_at_the_top_of_the_hour() -> None:
    """10:37 belongs to the period that started at 10:00."""
    assert period_start("hourly", at("2026-12-01T10:37:00")) == at("2026-12-01T10:00:00")


def test_twice_daily_digests_start_at_eight_and_two() -> None:
    """Before 08:00 the period began at 14:00 the day before; from 08:00 at 08:00; from 14:00 at 14:00."""
    assert period_start("twice_daily", at("2026-12-01T07:59:00")) == at("2026-11-30T14:00:00")
    assert period_start("twice_daily", at("2026-12-01T08:00:00")) == at("2026-12-01T08:00:00")
    assert period_start("twice_daily", at("2026-12-01T13:59:00")) == at("2026-12-01T08:00:00")
    assert period_start("twice_daily", at("2026-12-01T21:00:00")) == at("2026-12-01T14:00:00")
