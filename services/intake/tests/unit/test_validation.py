"""Every rule of a submission: a code per failing field, a Vietnamese message, never the input echoed."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from intake.validation import CheckedReport, InvalidRequest, TenantArea, check_submission
from paht_shared.testing import pii

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
TENANT = TenantArea.of(92, (9.15, 105.20, 10.40, 106.35), timedelta(days=365), timedelta(minutes=10))


def body(**changes: Any) -> dict[str, Any]:
    """The contract body with dotted-path changes; a value of ... deletes the field."""
    result: dict[str, Any] = copy.deepcopy(pii.sample_report())
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = result
        for p in parents:
            target = target[p]
        if value is ...:
            del target[last]
        else:
            target[last] = value
    return result


def check(raw: dict[str, Any]) -> CheckedReport:
    return check_submission(raw, TENANT, NOW)


def errors(raw: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(InvalidRequest) as info:
        check(raw)
    found = info.value.errors
    assert all(e["message"] and not e["message"].startswith("Value") for e in found)
    return [(e["field"], e["code"]) for e in found]


def test_the_contract_body_is_valid() -> None:
    """The issue's example body passes, the phone stored as E.164, the ward kept."""
    checked = check(body())
    assert checked.cmd.reporter.phone == "+84" + pii.PHONE[1:]
    assert checked.ward_code == "31507"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("A", "too_short"),
        ("Nguyễn " * 20, "too_long"),
        ("Nguyen 123", "invalid_name"),
        ("<script>alert(1)</script>", "invalid_name"),
        ("@@", "invalid_name"),
    ],
)
def test_bad_names(name: str, code: str) -> None:
    """Names: 2–100 letters after NFC and trimming; digits and symbols refused."""
    assert errors(body(reporter__full_name=name)) == [("reporter.full_name", code)]


@pytest.mark.parametrize("name", ["Nguyễn Thị Ánh-Tuyết", "  Trần   Văn  Bảo ", "O'Neil Trần", "Thạch Sô Phol"])
def test_good_names_are_kept_tidy(name: str) -> None:
    """Vietnamese and Khmer names with hyphens and apostrophes pass, spaces collapsed."""
    full_name = check(body(reporter__full_name=name)).cmd.reporter.full_name
    assert full_name == " ".join(name.split())


def test_name_is_counted_after_nfc() -> None:
    """A decomposed (NFD) name is composed first: "Lê" typed as L + e + combining circumflex is 2 characters."""
    checked = check(body(reporter__full_name="Le\u0302 An"))
    assert checked.cmd.reporter.full_name == "Lê An"


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("reporter__phone", "12345", "invalid_phone"),
        ("reporter__phone", "1022", "invalid_phone"),
        ("reporter__cccd", "0940900012", "invalid_cccd"),
        ("reporter__cccd", "003090001234", "cccd_province"),
        ("reporter__cccd", "094299001234", "cccd_birth_year"),
        ("reporter__email", "not-an-email", "invalid_email"),
        ("title", "Rác", "too_short"),
        ("title", "R" * 201, "too_long"),
        ("content", "Quá ngắn", "too_short"),
        ("content", "N" * 5001, "too_long"),
        ("category", "khong-co", "unknown_category"),
        ("location__ward_code", "00001", "unknown_ward"),
        ("occurred_at", "2099-01-01T08:00:00+07:00", "in_future"),
        ("occurred_at", "2024-01-01T08:00:00+07:00", "too_old"),
        ("occurred_at", "hôm qua", "invalid_datetime"),
        ("channel", "hotline", "channel_not_allowed"),
        ("public", "yes", "wrong_type"),
        ("title", 12345, "wrong_type"),
        ("media", [{"id": str(uuid.UUID(int=n)), "upload_token": "t" * 43} for n in range(11)], "too_many"),
        ("media", [{"id": str(uuid.UUID(int=1)), "upload_token": "t" * 43}] * 2, "duplicate"),
        ("media_ids", [], "unknown_field"),
        ("status", "answered", "field_not_allowed"),
        ("emergency", True, "field_not_allowed"),
        ("agency", "SXD", "field_not_allowed"),
        ("colour", "red", "unknown_field"),
        ("reporter__nickname", "Tí", "unknown_field"),
    ],
)
def test_each_rule_has_its_code(field: str, value: Any, code: str) -> None:
    """One broken rule, one error, with the rule's own code, on the right field."""
    assert errors(body(**{field: value})) == [(field.replace("__", "."), code)]


def test_a_category_that_may_not_be_public() -> None:
    """Security and order reports are never published: asking for it is refused, private is fine."""
    assert errors(body(category="an-ninh-trat-tu", public=True)) == [("public", "public_not_allowed")]
    assert check(body(category="an-ninh-trat-tu", public=False)).cmd.public is False


def test_an_attachment_needs_its_upload_token() -> None:
    """A file is attached by id and the token its upload gave; a token of the wrong shape is refused."""
    attachment = {"id": str(uuid.UUID(int=1)), "upload_token": "<script>" * 5}
    assert errors(body(media=[attachment])) == [("media.0.upload_token", "invalid")]
    assert errors(body(media=[{"id": str(uuid.UUID(int=1))}])) == [("media.0.upload_token", "missing")]
    attachment["upload_token"] = "a" * 43
    assert check(body(media=[attachment])).cmd.media_ids == [uuid.UUID(int=1)]


def test_map_point_outside_the_city_and_half_a_point() -> None:
    """A point in Hà Nội is outside the tenant; a latitude without longitude names the missing half."""
    assert errors(body(location={"lat": 21.03, "lon": 105.85})) == [("location", "outside_area")]
    assert errors(body(location={"ward_code": "31507", "lat": 9.6})) == [("location.lon", "missing")]


def test_location_by_ward_name_by_point_or_by_address() -> None:
    """A ward may be typed by name (any spelling) or found at the start of the address; a point alone is
    enough; a former district in the address becomes the named area."""
    by_name = check(body(location={"ward_name": "p. phu loi", "address_text": "12 Lê Lợi, TP Sóc Trăng"}))
    assert (by_name.ward_code, by_name.area_code) == ("31510", "941")
    by_point = check(body(location={"lat": 9.6, "lon": 105.97}))
    assert by_point.ward_code is None
    by_address = check(body(location={"address_text": "Xã Kế Sách, ấp An Thành"}))
    assert by_address.ward_code == "31528"
    assert errors(body(location={"address_text": "gần chợ"})) == [("location", "location_required")]
    assert errors(body(location={"ward_name": "Phường Không Có"})) == [("location.ward_name", "unknown_ward")]


def test_every_failing_field_is_listed_at_once() -> None:
    """Shapes, presence and references are all checked: the citizen fixes everything in one go."""
    raw = body(title="ab", category="khong-co", reporter__phone="123", location__ward_code="1", extra=1)
    assert sorted(errors(raw)) == sorted(
        [
            ("title", "too_short"),
            ("category", "unknown_category"),
            ("reporter.phone", "invalid_phone"),
            ("location.ward_code", "unknown_ward"),
            ("extra", "unknown_field"),
        ]
    )


def test_named_web_report_needs_the_whole_identity() -> None:
    """The web form's named report: name, phone, address and CCCD; each missing one is named."""
    raw = body(reporter={"phone": pii.PHONE})
    assert errors(raw) == [
        ("reporter.full_name", "missing"),
        ("reporter.address", "missing"),
        ("reporter.cccd", "missing"),
    ]


def test_anonymous_report_needs_only_a_way_to_reach_the_reporter() -> None:
    """Anonymous with only a phone (or only an email) passes; with neither, the contact is asked for."""
    assert check(body(anonymous=True, reporter={"phone": pii.PHONE})).cmd.reporter.full_name is None
    assert check(body(anonymous=True, reporter={"email": pii.EMAIL})).cmd.reporter.phone is None
    assert errors(body(anonymous=True, reporter={})) == [("reporter.phone", "contact_required")]


def test_text_is_normalised_and_html_is_kept_as_text() -> None:
    """NFC, control characters dropped, HTML kept verbatim (escaping is the job of whoever renders it)."""
    checked = check(body(title="Cống <b>vỡ</b>\x00 ở hẻm 5", content="Nu\u031bo\u031b\u0301c tràn ra đường, hôi thối."))
    assert checked.cmd.title == "Cống <b>vỡ</b> ở hẻm 5"
    assert checked.cmd.content is not None
    assert checked.cmd.content.startswith("Nước")


def test_errors_never_echo_the_input() -> None:
    """Whatever was sent (personal data above all) does not come back in the errors."""
    raw = body(
        reporter__phone="+1 " + pii.PHONE,
        reporter__cccd=pii.CCCD + "9",
        reporter__email=pii.EMAIL + "@@",
        reporter__full_name=pii.FULL_NAME + " 7",
        colour=pii.ADDRESS,
    )
    with pytest.raises(InvalidRequest) as info:
        check(raw)
    assert pii.find_leaks(json.dumps(info.value.errors, ensure_ascii=False)) == []
    assert len(info.value.errors) == 5
