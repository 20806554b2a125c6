"""What citizens and agencies are told: every template renders, on the right channels, with nothing private."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any

import pytest

from notify.notices import (
    AGENCY_KINDS,
    CITIZEN_KINDS,
    Contact,
    Links,
    Notice,
    citizen_kind,
    for_agency,
    for_citizen,
    vietnam_time,
)
from paht_shared.contracts import ReportStatus

LINKS = Links("http://127.0.0.1:8080")
CODE = "PA7K2M9Q"
TRACKING_URL = f"http://127.0.0.1:8080/tra-cuu/{CODE}"
REPORT_ID = uuid.UUID("0b6f1f0e-3d2a-4c1e-9a55-2f4f1f0c8a11")
# 17:30 UTC is 00:30 the next day in Vietnam: a wrong zone shows the wrong day, not only the wrong hour.
DUE = datetime(2025, 3, 1, 17, 30, tzinfo=UTC)
DUE_VN = "00:30 02/03/2025"
EVERYONE = Contact("dan@example.vn", "+84901234567", "device-token-1", email_on=True, sms_on=True, push_on=True)
# What a caller might pass along by mistake from a whole event: none of it may reach a message.
PRIVATE = {
    "note": "GHICHUNOIBO chỉ dành cho cán bộ",
    "tracking_secret": "BIMAT-9f8e7d6c",
    "agency_email": "vanthu@coquan.gov.vn",
    "contact_sealed": "NIEMPHONG-abcdef",
    "reason_code": "MA_LY_DO_NOI_BO",
}


def citizen_facts(**overrides: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "tracking_code": CODE,
        "title": "Đèn đường hỏng trước số 12",
        "category_name": "Chiếu sáng công cộng",
        "agency_name": "UBND phường Bến Nghé",
        "due_at": DUE,
        "message": "Đơn vị đã thay bóng đèn ngày 28/02.",
        "received_at": datetime(2025, 2, 27, 1, 5, tzinfo=UTC),
    }
    return facts | overrides


def agency_facts(**overrides: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "report_id": REPORT_ID,
        "agency_code": "UBND_BEN_NGHE",
        "agency_name": "UBND phường Bến Nghé",
        "tracking_code": CODE,
        "title": "Đèn đường hỏng trước số 12",
        "category": "chieu_sang",
        "ward_code": "26734",
        "due_at": DUE,
        "triage": False,
    }
    return facts | overrides


def by_channel(notices: list[Notice]) -> dict[str, Notice]:
    return {n.channel: n for n in notices}


@pytest.mark.parametrize("kind", sorted(CITIZEN_KINDS))
@pytest.mark.parametrize(
    "facts",
    [citizen_facts(), {"tracking_code": CODE, "title": "Ổ gà"}],
    ids=["all-facts", "required-only"],
)
def test_every_citizen_kind_and_channel_renders_with_code_and_link(kind: str, facts: dict[str, Any]) -> None:
    """Each kind renders on all three channels, with or without the optional facts, naming the code and link."""
    notices = by_channel(for_citizen(kind, facts, EVERYONE, LINKS))

    assert set(notices) == {"email", "sms", "push"}
    for notice in notices.values():
        assert (notice.audience, notice.kind, notice.agency_code) == ("citizen", kind, None)
        assert CODE in notice.text
        assert TRACKING_URL in notice.text
        assert "None" not in notice.text  # an absent optional fact shows nothing, not Python's None
    email, sms, push = notices["email"], notices["sms"], notices["push"]
    assert email.recipient == "dan@example.vn"
    assert email.subject is not None
    assert email.subject.startswith("[PAHT] ")
    assert email.subject.endswith(f" — {CODE}")
    assert "\n" not in email.subject
    assert (sms.recipient, sms.subject) == ("+84901234567", None)
    assert "\n" not in sms.text
    assert (push.recipient, push.subject) == ("device-token-1", None)
    title, body = push.text.split("\n")
    assert CODE in title
    assert body


# report.deadline carries no title, ward, triage flag or agency code: the deadline emails render without them.
DEADLINE_FACTS = {k: v for k, v in agency_facts().items() if k not in {"title", "ward_code", "triage", "agency_code"}}


@pytest.mark.parametrize(
    ("kind", "facts"),
    [(kind, agency_facts()) for kind in sorted(AGENCY_KINDS)]
    + [("agency.due_soon", DEADLINE_FACTS), ("agency.overdue", DEADLINE_FACTS)],
)
def test_every_agency_kind_renders_one_email_with_the_console_link(kind: str, facts: dict[str, Any]) -> None:
    """An agency gets one email, pointing at the report in the agency console, with the deadline in Vietnam time."""
    [notice] = for_agency(kind, facts, "xuly@benghe.gov.vn", LINKS)

    assert (notice.audience, notice.channel, notice.kind) == ("agency", "email", kind)
    assert notice.recipient == "xuly@benghe.gov.vn"
    assert notice.agency_code == facts.get("agency_code")
    assert notice.subject is not None
    assert notice.subject.startswith("[PAHT] ")
    assert CODE in notice.subject
    assert f"http://127.0.0.1:8080/co-quan/phan-anh/{REPORT_ID}" in notice.text
    assert f"Hạn trả lời: {DUE_VN}" in notice.text
    assert "None" not in notice.text


def test_every_kind_and_channel_has_its_template_and_no_template_is_stray() -> None:
    """The templates shipped are exactly one per kind and channel (plus the two frames they extend)."""
    shipped = {p.name for p in files("notify").joinpath("templates").iterdir() if p.name.endswith(".j2")}

    expected = {f"{k}.{c}.j2" for k in CITIZEN_KINDS for c in ("email", "sms", "push")}
    expected |= {f"{k}.email.j2" for k in AGENCY_KINDS}
    assert shipped == expected | {"_citizen.email.j2", "_agency.email.j2", "agency.digest.email.j2"}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"email_on": False}, {"sms", "push"}),
        ({"sms_on": False}, {"email", "push"}),
        ({"push_on": False}, {"email", "sms"}),
        ({"email": None}, {"sms", "push"}),
        ({"phone": None}, {"email", "push"}),
        ({"push_token": None}, {"email", "sms"}),
        ({"email": "", "phone": "", "push_token": ""}, set()),
        ({"email_on": False, "sms_on": False, "push_on": False}, set()),
    ],
    ids=["email-off", "sms-off", "push-off", "no-email", "no-phone", "no-token", "empty-addresses", "all-off"],
)
def test_a_channel_that_is_off_or_has_no_address_gets_nothing(changes: dict[str, Any], expected: set[str]) -> None:
    """A notice goes out on a channel only when the citizen left it on and gave an address for it."""
    notices = for_citizen("citizen.answered", citizen_facts(), replace(EVERYONE, **changes), LINKS)

    assert {n.channel for n in notices} == expected


def test_an_anonymous_reporter_with_only_an_email_gets_only_email() -> None:
    """An anonymous report keeps only an email to answer to: no SMS or push is attempted."""
    anonymous = Contact("andanh@example.vn", None, None, email_on=True, sms_on=True, push_on=True)

    notices = for_citizen("citizen.received", citizen_facts(), anonymous, LINKS)

    assert [(n.channel, n.recipient) for n in notices] == [("email", "andanh@example.vn")]


def test_the_answer_goes_in_full_by_email_and_never_by_sms() -> None:
    """The answer is in the email whole; the SMS only says who answered and where to read it."""
    answer = " ".join(f"đoạn{i} nội dung trả lời chi tiết của cơ quan" for i in range(40))
    fitted: list[str] = []

    def fit(text: str) -> str:
        fitted.append(text)
        return text

    notices = by_channel(for_citizen("citizen.answered", citizen_facts(message=answer), EVERYONE, LINKS, fit))

    assert answer in notices["email"].text
    sms = notices["sms"].text
    assert sms == f"PAHT: Cơ quan UBND phường Bến Nghé đã trả lời phản ánh {CODE}. Xem: {TRACKING_URL}"
    assert not any(word in sms for word in ("đoạn", "nội dung", "chi tiết"))
    assert answer not in notices["push"].text
    assert fitted == [sms]  # the SMS, and only the SMS, went through the caller's fitting


def test_sms_text_is_what_the_fit_callable_returns() -> None:
    """The caller's `fit` has the last word on the SMS (it knows the segment limits)."""
    notices = by_channel(for_citizen("citizen.received", citizen_facts(), EVERYONE, LINKS, lambda t: t[:20]))

    assert len(notices["sms"].text) == 20
    assert len(notices["email"].text) > 20


@pytest.mark.parametrize("kind", sorted(CITIZEN_KINDS))
def test_nothing_internal_or_private_reaches_a_citizen(kind: str) -> None:
    """Even handed a whole event, a citizen message has no internal note, secret, agency address or sealed contact."""
    notices = for_citizen(kind, citizen_facts(**PRIVATE), EVERYONE, LINKS)

    assert len(notices) == 3
    for notice in notices:
        for value in PRIVATE.values():
            assert value not in notice.text
            assert value not in (notice.subject or "")


@pytest.mark.parametrize("kind", sorted(AGENCY_KINDS))
def test_no_internal_note_or_private_data_reaches_an_agency_email(kind: str) -> None:
    """The agency email, too, carries only its allow-listed facts."""
    [notice] = for_agency(kind, agency_facts(**PRIVATE), "xuly@benghe.gov.vn", LINKS)

    for value in PRIVATE.values():
        assert value not in notice.text
        assert value not in (notice.subject or "")


@pytest.mark.parametrize("email", [None, ""])
@pytest.mark.parametrize("kind", sorted(AGENCY_KINDS))
def test_an_agency_without_an_email_gets_nothing(kind: str, email: str | None) -> None:
    """Agencies are reached by email only: no address, no notice."""
    assert for_agency(kind, agency_facts(), email, LINKS) == []


def test_the_assignment_email_keeps_todays_content() -> None:
    """The agency's assignment email says what the one before it said, plus the link into the console."""
    [notice] = for_agency("agency.assigned", agency_facts(), "xuly@benghe.gov.vn", LINKS)

    assert notice.subject == f"[PAHT] Phản ánh mới {CODE}: Đèn đường hỏng trước số 12"
    for line in (
        "Kính gửi UBND phường Bến Nghé,",
        "Hệ thống Phản ánh hiện trường đã chuyển đến quý cơ quan một phản ánh mới:",
        f"  Mã phản ánh: {CODE}",
        "  Tiêu đề: Đèn đường hỏng trước số 12",
        "  Chuyên mục: chieu_sang",
        "  Phường/xã: 26734",
        f"  Hạn trả lời: {DUE_VN}",
        f"Vui lòng xem chi tiết và xử lý tại http://127.0.0.1:8080/co-quan/phan-anh/{REPORT_ID}.",
    ):
        assert line in notice.text.splitlines()
    assert "phân loại" not in notice.text


def test_a_triage_assignment_asks_the_coordinator_to_sort_it() -> None:
    """A report no rule matched lands with the coordinator, whose email says it needs sorting."""
    [notice] = for_agency("agency.assigned", agency_facts(triage=True), "dieuphoi@tinh.gov.vn", LINKS)

    assert "phân loại" in notice.text


@pytest.mark.parametrize(
    ("kind", "phrase"),
    [("agency.due_soon", "sắp đến hạn"), ("agency.overdue", "đã quá hạn")],
)
def test_deadline_emails_say_so_with_the_deadline(kind: str, phrase: str) -> None:
    """Due-soon and overdue emails say which, in subject and body, with the deadline in Vietnam time."""
    [notice] = for_agency(kind, agency_facts(), "xuly@benghe.gov.vn", LINKS)

    assert notice.subject is not None
    assert phrase in notice.subject.lower()
    assert DUE_VN in notice.subject
    assert f"{phrase} trả lời (hạn {DUE_VN})" in notice.text


def test_citizen_dates_are_shown_in_vietnam_time() -> None:
    """A deadline stored in UTC is shown on Vietnam's clock as HH:MM dd/mm/YYYY."""
    notices = by_channel(for_citizen("citizen.assigned", citizen_facts(), EVERYONE, LINKS))

    assert f"Hạn trả lời: {DUE_VN}." in notices["email"].text
    assert DUE_VN in notices["sms"].text
    assert "17:30" not in notices["email"].text


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (DUE, DUE_VN),
        (datetime(2025, 3, 1, 17, 30), DUE_VN),  # naive: the platform's timestamps are UTC
        ("2025-03-01T17:30:00+00:00", DUE_VN),
        ("2025-03-02T00:30:00+07:00", DUE_VN),
    ],
)
def test_vietnam_time(value: datetime | str, shown: str) -> None:
    """Aware, naive (UTC) and ISO-string times all land on the same Vietnam wall-clock time."""
    assert vietnam_time(value) == shown


@pytest.mark.parametrize("status", list(ReportStatus))
def test_citizen_kind_of_each_status(status: ReportStatus) -> None:
    """The citizen hears of a request for information, assignment, answer, rejection and reopening; nothing else."""
    told = {
        ReportStatus.NEEDS_INFO,
        ReportStatus.ASSIGNED,
        ReportStatus.ANSWERED,
        ReportStatus.REJECTED,
        ReportStatus.REOPENED,
    }

    kind = citizen_kind(status)

    assert kind == (f"citizen.{status.value}" if status in told else None)
    assert kind is None or kind in CITIZEN_KINDS


def test_missing_required_facts_and_unknown_kinds_are_refused() -> None:
    """A wiring mistake fails loudly instead of sending a message with holes in it."""
    with pytest.raises(ValueError, match="tracking_code"):
        for_citizen("citizen.answered", {"title": "x"}, EVERYONE, LINKS)
    with pytest.raises(ValueError, match="report_id"):
        for_agency("agency.overdue", agency_facts(report_id=None), "xuly@benghe.gov.vn", LINKS)
    with pytest.raises(ValueError, match="unknown"):
        for_citizen("citizen.closed", citizen_facts(), EVERYONE, LINKS)
    with pytest.raises(ValueError, match="unknown"):
        for_agency("citizen.answered", agency_facts(), "xuly@benghe.gov.vn", LINKS)


def test_links() -> None:
    """Links point at the public tracking page by code (never a secret) and at the agency console by id."""
    links = Links("https://paht.example.vn/")

    assert links.tracking("PA7K2M9Q") == "https://paht.example.vn/tra-cuu/PA7K2M9Q"
    assert links.tracking("A/B C") == "https://paht.example.vn/tra-cuu/A%2FB%20C"
    assert links.agency_report(REPORT_ID) == f"https://paht.example.vn/co-quan/phan-anh/{REPORT_ID}"


def test_an_incomplete_emailed_report_is_told_what_is_missing_and_its_secret_once() -> None:
    """The reception email of an emailed report missing its place lists what to add and how, and gives the
    tracking secret the sender never got any other way; the SMS only says something is missing."""
    facts = citizen_facts(missing=["địa điểm xảy ra (phường/xã và địa chỉ cụ thể)"], emailed_secret="K7QW-2MX9")  # noqa: S106 - a sample

    notices = by_channel(for_citizen("citizen.received", facts, EVERYONE, LINKS))

    email = notices["email"].text
    assert "địa điểm xảy ra (phường/xã và địa chỉ cụ thể)" in email
    assert "Bổ sung thông tin" in email
    assert "Mã bí mật để tra cứu và bổ sung thông tin: K7QW-2MX9" in email
    assert "chuyển đến cơ quan có thẩm quyền để xem xét" not in email
    assert "K7QW-2MX9" not in notices["sms"].text
    assert "bổ sung" in notices["sms"].text


def test_a_complete_report_is_told_nothing_about_missing_fields_nor_any_secret() -> None:
    email = by_channel(for_citizen("citizen.received", citizen_facts(), EVERYONE, LINKS))["email"].text

    assert "bổ sung" not in email.lower()
    assert "Mã bí mật để" not in email
