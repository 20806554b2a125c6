"""Open311 <-> our report, without I/O: the form as a submission, titles, statuses, error names, GET's window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from intake.models import VIETNAM, ChannelReport
from intake.open311.mapping import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    Open311Error,
    descriptions,
    open311_status,
    request_query,
    service_request,
    services,
    submission,
    title_of,
)
from intake.validation import InvalidRequest, TenantArea, check_submission
from paht_shared.contracts import Channel, ReportStatus

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
TENANT = TenantArea.of(92, (9.15, 105.20, 10.40, 106.35), timedelta(days=365), timedelta(minutes=10))
FORM = {
    "api_key": "o311_x",
    "service_code": "rac-thai",
    "lat": "9.6025",
    "long": "105.9739",
    "address_string": "Cổng chợ Sóc Trăng",
    "description": "Rác thải tồn đọng nhiều ngày trước cổng chợ. Bốc mùi hôi.",
    "first_name": "Nguyễn Văn",
    "last_name": "An",
    "email": "an@example.vn",
    "device_id": "abc",
    "account_id": "42",
    "jurisdiction_id": "cantho.gov.vn",
}


def refusal(call: Any, *args: Any) -> Open311Error:
    with pytest.raises(Open311Error) as info:
        call(*args)
    return info.value


def test_a_form_becomes_the_same_submission_as_the_web_forms() -> None:
    raw = submission(FORM)
    assert raw["channel"] == "open311"
    assert raw["category"] == "rac-thai"
    assert raw["title"] == "Rác thải tồn đọng nhiều ngày trước cổng chợ"
    assert raw["content"] == FORM["description"]
    assert raw["location"] == {"address_text": "Cổng chợ Sóc Trăng", "lat": 9.6025, "lon": 105.9739}
    assert raw["reporter"] == {"full_name": "Nguyễn Văn An", "phone": None, "email": "an@example.vn"}
    assert raw["public"] is False
    assert raw["consent"] == {"use_personal_data": False, "publish": False}
    checked = check_submission(raw, TENANT, NOW, model=ChannelReport)
    assert checked.channel is Channel.OPEN311
    assert checked.cmd.reporter.full_name == "Nguyễn Văn An"


def test_public_is_the_reporters_consent_to_publish() -> None:
    raw = submission({**FORM, "public": "true"})
    assert raw["public"] is True
    assert raw["consent"]["publish"] is True
    assert refusal(submission, {**FORM, "public": "yes please"}).status == 400


def test_only_a_contact_is_required_of_an_open311_reporter() -> None:
    bare = {k: v for k, v in FORM.items() if k not in ("first_name", "last_name")}
    check_submission(submission(bare), TENANT, NOW, model=ChannelReport)
    without_contact = {k: v for k, v in bare.items() if k != "email"}
    with pytest.raises(InvalidRequest) as info:
        check_submission(submission(without_contact), TENANT, NOW, model=ChannelReport)
    assert descriptions(info.value.errors)[0].startswith("email hoặc phone: ")


def test_an_address_id_is_a_ward_code() -> None:
    raw = submission({"service_code": "rac-thai", "address_id": "31507", "description": FORM["description"]})
    assert raw["location"] == {"ward_code": "31507"}


@pytest.mark.parametrize(
    ("field", "value"), [("lat", "north"), ("long", "nan"), ("lat", "inf"), ("color", "red"), ("attribute[x]", "1")]
)
def test_bad_or_unknown_fields_are_400s_naming_them(field: str, value: str) -> None:
    error = refusal(submission, {**FORM, field: value})
    assert error.status == 400
    assert error.descriptions[0].startswith(field)


def test_an_unknown_field_with_a_strange_name_is_not_repeated() -> None:
    """A client may send anything as a name, a phone number included."""
    error = refusal(submission, {**FORM, "0912 345 678": "x"})
    assert error.descriptions == ["?: tham số không được hỗ trợ."]


@pytest.mark.parametrize(
    ("description", "title"),
    [
        ("Đèn đường hỏng. Tối om cả con hẻm, rất nguy hiểm.", "Đèn đường hỏng"),
        ("Ổ gà! Xe máy té ngã liên tục.", "Ổ gà!"),
        ("Ôi! Xe máy té ngã liên tục trên đường Lê Lợi.", "Ôi! Xe máy té ngã liên tục trên đường Lê Lợi."),
        ("Cây xanh gãy đổ\nchắn ngang đường", "Cây xanh gãy đổ"),
        ("a" * 100, "a" * 79 + "…"),
        ("Nước thải " * 20, ("Nước thải " * 8).strip() + "…"),  # 79 characters end at a word
        ("Nước thải " * 7 + "Nướcthảiii " * 3, ("Nước thải " * 7).strip() + "…"),  # 79 end inside one
    ],
)
def test_the_title_is_the_first_sentence_at_most_80_characters(description: str, title: str) -> None:
    assert title_of(description) == title
    assert 5 <= len(title_of(description)) <= 80


def test_every_status_is_open_or_closed() -> None:
    assert frozenset(ReportStatus) == OPEN_STATUSES | CLOSED_STATUSES
    assert not OPEN_STATUSES & CLOSED_STATUSES
    assert open311_status(ReportStatus.ANSWERED) == "closed"
    assert open311_status(ReportStatus.REJECTED) == "closed"
    assert open311_status(ReportStatus.REOPENED) == "open"
    assert open311_status(ReportStatus.NEEDS_INFO) == "open"


def row(**changes: Any) -> dict[str, Any]:
    return {
        "tracking_code": "PA-ABCDEFGH",
        "content": "Rác thải tồn đọng, liên hệ [đã ẩn].",
        "category": "rac-thai",
        "ward_code": "31507",
        "address_text": "Cổng chợ",
        "lat": 9.6,
        "lon": 105.97,
        "status": "answered",
        "agency_name": "UBND phường",
        "due_at": None,
        "submitted_at": NOW,
        "updated_at": NOW,
        "answer_text": "Đã thu gom.",
        **changes,
    }


def test_a_report_row_as_a_service_request() -> None:
    found = service_request(row(), 92)
    assert found.status == "closed"
    assert found.status_notes == "Đã thu gom."
    assert found.requested_datetime == "2026-11-29T10:00:00+07:00"
    assert found.expected_datetime is None
    assert found.address is not None
    assert found.address.startswith("Cổng chợ, ")
    assert found.address_id == "31507"
    assert found.service_name == "Rác thải, vệ sinh nơi công cộng"
    reopened = service_request(row(status="reopened"), 92)
    assert (reopened.status, reopened.status_notes) == ("open", None)  # the old answer is not the news


def test_a_description_longer_than_the_schema_allows_is_shortened() -> None:
    """Our reports may have 5,000 characters; GeoReport v2 allows 4,000 in a request's description."""
    long = "Nước ngập sâu kéo dài. " * 220

    found = service_request(row(content=long), 92)

    assert found.description is not None
    assert len(found.description) == 4000
    assert found.description.endswith("…")
    assert service_request(row(), 92).description == row()["content"]


def test_services_are_the_active_categories_grouped_by_field() -> None:
    listed = {s.service_code: s for s in services()}
    assert listed["rac-thai"].group == "Vệ sinh môi trường"
    assert "rac thai" in listed["rac-thai"].keywords
    assert all(not s.metadata and s.type == "realtime" for s in listed.values())


def test_get_requests_defaults_to_the_last_90_days_and_at_most_1000() -> None:
    query = request_query({}, NOW)
    assert (query.start, query.end) == (NOW - timedelta(days=90), NOW)
    assert (query.page, query.page_size) == (1, 1000)


def test_one_date_opens_a_90_day_window_from_or_up_to_it() -> None:
    start = datetime(2026, 1, 1, tzinfo=VIETNAM)
    assert request_query({"start_date": "2026-01-01T00:00:00+07:00"}, NOW).end == start + timedelta(days=90)
    assert request_query({"end_date": "2026-01-01T00:00:00"}, NOW).start == start - timedelta(days=90)
    assert request_query({"start_date": "2026-01-01T00:00:00Z"}, NOW).start == datetime(2026, 1, 1, tzinfo=UTC)


def test_ids_override_every_other_parameter() -> None:
    query = request_query({"service_request_id": "pa-abc, PA-DEF,pa-abc", "status": "open"}, NOW)
    assert query.ids == ("PA-ABC", "PA-DEF")
    assert (query.start, query.end, query.statuses) == (None, None, None)


def test_status_open_or_closed_becomes_our_statuses() -> None:
    closed = request_query({"status": "closed"}, NOW).statuses
    assert closed is not None
    assert set(closed) == {s.value for s in CLOSED_STATUSES}
    both = request_query({"status": "open,closed"}, NOW).statuses
    assert both is not None
    assert set(both) == {s.value for s in ReportStatus}


@pytest.mark.parametrize(
    "query",
    [
        {"start_date": "2026-01-01T00:00:00+07:00", "end_date": "2026-04-02T00:00:00+07:00"},
        {"start_date": "2026-02-01T00:00:00+07:00", "end_date": "2026-01-01T00:00:00+07:00"},
        {"start_date": "01/02/2026"},
        {"status": "pending"},
        {"page": "0"},
        {"page_size": "1001"},
        {"page_size": "-5"},
        {"service_request_id": ",".join(f"PA-{i}" for i in range(1001))},
        {"q": "rác"},
    ],
)
def test_bad_queries_are_400s(query: dict[str, str]) -> None:
    assert refusal(request_query, query, NOW).status == 400
