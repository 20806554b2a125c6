"""Phone and CCCD normalisation, tracking codes."""

from __future__ import annotations

import pytest

from intake.domain import hash_secret, new_tracking_code, normalize_cccd, normalize_phone, secret_matches


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0912345678", "+84912345678"),
        ("091 234 5678", "+84912345678"),
        ("0912.345.678", "+84912345678"),
        ("+84 912-345-678", "+84912345678"),
        ("84912345678", "+84912345678"),
        ("０９１２３４５６７８", "+84912345678"),  # full-width digits from a phone keyboard
        ("(0299) 382 1234", "+842993821234"),  # Sóc Trăng landline
        ("0312345678", "+84312345678"),
    ],
)
def test_phone_spellings_normalise_to_e164(raw: str, expected: str) -> None:
    """Every common way of writing a Vietnamese number ends as the same E.164 string."""
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", ["", "1022", "0112345678", "091234567", "09123456789", "abc", "+1 202 555 0100"])
def test_invalid_phones_are_refused(raw: str) -> None:
    """Short service numbers, wrong prefixes and wrong lengths are not contact numbers."""
    assert normalize_phone(raw) is None


def test_cccd_is_twelve_digits() -> None:
    """Structure only: 12 digits, spaces tolerated."""
    assert normalize_cccd("094 090 001 234") == "094090001234"
    assert normalize_cccd("09409000123") is None
    assert normalize_cccd("09409000123a") is None


def test_tracking_codes_are_unambiguous_and_secrets_compare_by_hash() -> None:
    """Codes avoid 0/O/1/I/L (read aloud on the hotline); secrets are checked against their hash."""
    codes = {new_tracking_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(c.startswith("PA-") and len(c) == 11 and not set(c[3:]) & set("01OIL") for c in codes)
    stored = hash_secret("s3cret")
    assert secret_matches("s3cret", stored)
    assert not secret_matches("other", stored)
