"""Phones, CCCDs, who must give what, wards and former districts, tracking codes."""

from __future__ import annotations

from datetime import date

import pytest

from intake.domain import (
    cccd_problem,
    find_area,
    hash_secret,
    missing_identity,
    new_tracking_code,
    normalize_cccd,
    normalize_phone,
    resolve_ward_name,
    secret_matches,
    ward_lookup,
)
from paht_shared import reference
from paht_shared.contracts import Channel


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


TODAY = date(2026, 11, 29)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("094090001234", None),  # Sóc Trăng, male, born 1990
        ("094 090 001 234", None),  # spaces tolerated
        ("092305001234", None),  # Cần Thơ, female, born 2005
        ("001226001234", None),  # Hà Nội, male, born 2026: this year is not the future
        ("09409000123", "invalid_cccd"),  # 11 digits
        ("09409000123a", "invalid_cccd"),
        ("０９４０９０００１２３４", None),  # full-width digits
        ("003090001234", "cccd_province"),  # 003 was never issued
        ("097090001234", "cccd_province"),  # nor 097
        ("094227001234", "cccd_birth_year"),  # born 2027
        ("094499001234", "cccd_birth_year"),  # born 2199
    ],
)
def test_cccd_structure_province_and_birth_year(raw: str, problem: str | None) -> None:
    """12 digits, a province code that was issued, a sex/century digit giving a birth year not in the future."""
    assert cccd_problem(raw, TODAY) == problem
    if problem is None:
        assert len(normalize_cccd(raw)) == 12


def test_which_identity_fields_each_case_requires() -> None:
    """Named web/app reports give name, phone, address and CCCD; anonymous ones only a phone or an email;
    email and hotline never have to invent what they cannot collect."""
    everything = {"full_name", "phone", "address", "cccd", "email"}
    for channel in Channel:
        assert missing_identity(channel, anonymous=False, given=everything) == []
        assert missing_identity(channel, anonymous=True, given={"phone"}) == []
        assert missing_identity(channel, anonymous=True, given={"email"}) == []
        assert missing_identity(channel, anonymous=True, given={"full_name"}) == ["contact"]
    assert missing_identity(Channel.WEB, False, {"phone"}) == ["full_name", "address", "cccd"]
    assert missing_identity(Channel.APP, False, {"full_name", "phone", "address"}) == ["cccd"]
    assert missing_identity(Channel.EMAIL, False, {"email"}) == []  # an email has no CCCD
    assert missing_identity(Channel.HOTLINE, False, {"full_name", "phone"}) == []
    assert missing_identity(Channel.OPEN311, False, set()) == ["contact"]


def test_wards_by_name_and_former_districts() -> None:
    """Ward names resolve with or without prefix and diacritics; former districts are found in addresses."""
    lookup = ward_lookup(reference.wards(92))
    assert resolve_ward_name("P. Phú Lợi", lookup) == "31510"
    assert resolve_ward_name("phuong phu loi", lookup) == "31510"
    assert resolve_ward_name("Xã Kế Sách", lookup) == "31528"
    assert resolve_ward_name("Phường 99", lookup) is None
    areas = reference.areas()
    assert find_area("12 Lê Lợi, Phường 2, TP Sóc Trăng", areas) == "941"
    assert find_area("ấp An Thành, huyen Ke Sach", areas) == "943"
    assert find_area("Xã Kế Sách", areas) is None  # the commune, not the former district
    assert find_area("thị xã Vĩnh Châu", areas) == "950"


def test_tracking_codes_are_unambiguous_and_secrets_compare_by_hash() -> None:
    """Codes avoid 0/O/1/I/L (read aloud on the hotline); secrets are checked against their hash."""
    codes = {new_tracking_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(c.startswith("PA-") and len(c) == 11 and not set(c[3:]) & set("01OIL") for c in codes)
    stored = hash_secret("s3cret")
    assert secret_matches("s3cret", stored)
    assert not secret_matches("other", stored)
