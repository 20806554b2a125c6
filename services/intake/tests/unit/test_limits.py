"""The per-address submission limit: a fixed one-minute window, and the platform's own failures given back."""

from __future__ import annotations

from intake.limits import AddressLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_limit_holds_within_the_minute_and_opens_after_it() -> None:
    clock = Clock()
    limiter = AddressLimiter(per_minute=2, clock=clock)
    assert limiter.allow("203.0.113.7") is None
    assert limiter.allow("203.0.113.7") is None
    clock.now = 20.0
    assert limiter.allow("203.0.113.7") == 41  # Retry-After: the rest of the window, rounded up
    assert limiter.allow("198.51.100.2") is None  # another address has its own count
    clock.now = 60.0
    assert limiter.allow("203.0.113.7") is None


def test_a_submission_the_platform_failed_is_given_back() -> None:
    """A 503 while PostgreSQL was away: the app's retries with the same key are one submission, not many (the
    chaos run saw citizens refused with 429 after retrying through a 10 s outage)."""
    limiter = AddressLimiter(per_minute=2, clock=Clock())
    for _ in range(10):  # ten attempts, each failed by the platform
        assert limiter.allow("203.0.113.7") is None
        limiter.refund("203.0.113.7")
    assert limiter.allow("203.0.113.7") is None
    assert limiter.allow("203.0.113.7") is None
    assert limiter.allow("203.0.113.7") is not None


def test_a_refund_never_gives_more_than_was_taken() -> None:
    limiter = AddressLimiter(per_minute=1, clock=Clock())
    limiter.refund("203.0.113.7")
    assert limiter.allow("203.0.113.7") is None
    assert limiter.allow("203.0.113.7") is not None
