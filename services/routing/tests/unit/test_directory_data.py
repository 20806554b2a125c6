"""The reference files (categories, agencies, rules) and what loading them plans, without a database."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from paht_shared import reference
from paht_shared.calendar import TIMEZONE
from paht_shared.reference import Area
from routing.directory import (
    AgencyEntry,
    AgencyKind,
    CategoryEntry,
    ReferenceData,
    ReferenceFileError,
    RuleEntry,
    Source,
    categories_from,
    parse_reference,
    plan_load,
    reference_data,
    reference_file,
    replacement_cycle,
)

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
# Codes other services and tests rely on: they stay valid and active.
KEPT_CATEGORIES = [
    "giao-thong",
    "moi-truong",
    "trat-tu-do-thi",
    "an-ninh-trat-tu",
    "dien-chieu-sang",
    "cap-thoat-nuoc",
    "y-te",
    "giao-duc",
    "dat-dai-xay-dung",
    "thien-tai",
    "thu-tuc-hanh-chinh",
    "vien-thong",
    "khac",
]
KEPT_AGENCIES = ["VP-UBND", "SXD", "SNNMT", "SYT", "SGDDT", "SNV", "SKHCN", "CA", "DIEN-LUC", "CAP-NUOC"]


@pytest.fixture(scope="module")
def loaded() -> ReferenceData:
    return reference_data(now=NOW)


def category(code: str, field: str = "f", active: bool = True) -> CategoryEntry:
    return CategoryEntry(code, field, "Lĩnh vực", f"Chuyên mục {code}", "standard", 10, True, active)


def small_file(**changes: Any) -> dict[str, Any]:
    """A minimal agencies file: a coordinator, one department, one category-wide rule."""
    data: dict[str, Any] = {
        "coordinator": "VP",
        "agencies": [
            {"code": "VP", "kind": "coordinator", "name": "Điều phối"},
            {"code": "SXD", "kind": "department", "name": "Sở Xây dựng"},
        ],
        "rules": [{"category": "duong", "agency": "SXD"}],
    }
    return data | changes


def parse(data: dict[str, Any], categories: tuple[CategoryEntry, ...] = (category("duong"),)) -> ReferenceData:
    return parse_reference(data, categories, {"31507": "Phường Sóc Trăng", "31528": "Xã Kế Sách"}, AREAS, NOW)


AREAS = (Area("941", "Thành phố Sóc Trăng (cũ)", ()),)


# --- categories ------------------------------------------------------------------------------------------------


def test_kept_category_codes_stay_active_in_a_field() -> None:
    """Every code reports and tests already use is still a valid, active category inside a declared field."""
    fields = {f.code for f in reference.fields()}
    for code in KEPT_CATEGORIES:
        found = reference.category(code)
        assert found is not None, code
        assert found.active
        assert found.field in fields


def test_each_category_gets_the_working_days_of_its_class() -> None:
    """Deadline classes are declared with their working days; a category's working_days is its class's."""
    classes = reference.deadline_classes()
    assert classes == {"short": 5, "standard": 10, "long": 15}
    for c in reference.categories():
        assert c.working_days == classes[c.deadline_class]
    assert reference.category("thien-tai") == reference.Category(
        "thien-tai", "Thiên tai, thời tiết nguy hiểm", "nong-nghiep-thien-tai", "short", 5, True
    )


def test_the_issues_finer_categories_exist_under_their_fields() -> None:
    """Rubbish, pollution, discharges, noise, encroachment, sand mining, erosion, delays, harassment, roads,
    lighting, water, flooding, trees and labour each have a category, in the field the issue names."""
    expected = {
        "rac-thai": "ve-sinh-moi-truong",
        "o-nhiem": "ve-sinh-moi-truong",
        "xa-thai": "ve-sinh-moi-truong",
        "tieng-on": "ve-sinh-moi-truong",
        "lan-chiem-dat": "dat-dai-tai-nguyen",
        "khai-thac-cat": "dat-dai-tai-nguyen",
        "sat-lo": "dat-dai-tai-nguyen",
        "tthc-cham-tre": "hanh-chinh-cong-vu",
        "tthc-gay-phien-ha": "hanh-chinh-cong-vu",
        "tthc-sai-quy-dinh": "hanh-chinh-cong-vu",
        "duong-sa": "ha-tang-do-thi",
        "chieu-sang": "ha-tang-do-thi",
        "cap-nuoc": "ha-tang-do-thi",
        "thoat-nuoc-ngap": "ha-tang-do-thi",
        "cay-xanh": "ha-tang-do-thi",
        "lao-dong-viec-lam": "lao-dong-an-sinh",
        "mat-dien": "cap-dien",
    }
    assert {code: getattr(reference.category(code), "field", None) for code in expected} == expected
    assert len(reference.fields()) == 14


def test_complaints_and_denunciations_are_not_categories() -> None:
    """Khiếu nại / tố cáo follow another legal channel: no category may offer them."""
    names = " ".join(c.name.lower() for c in reference.categories())
    assert "khiếu nại" not in names
    assert "tố cáo" not in names


def test_a_broken_categories_file_names_every_problem() -> None:
    """An unknown deadline class and a code used twice (also by a field) are both reported."""
    data = {
        "deadline_classes": {"short": 5},
        "fields": [
            {"code": "x", "name": "X", "categories": [{"code": "a", "name": "A", "deadline_class": "slow",
                                                          "public_allowed": True}]},
            {"code": "a", "name": "Y", "categories": []},
        ],
    }  # fmt: skip
    with pytest.raises(ValueError, match="unknown deadline class slow") as caught:
        reference.parse_categories(data)
    assert "code a used twice" in str(caught.value)


# --- agencies and rules ----------------------------------------------------------------------------------------


def test_the_repo_files_load_with_103_ward_committees(loaded: ReferenceData) -> None:
    """One People's Committee per ward of Thành phố Cần Thơ, made by the loader, next to the listed agencies."""
    committees = [a for a in loaded.agencies if a.kind is AgencyKind.WARD_COMMITTEE]
    assert len(committees) == len(reference.wards(92)) == 103
    by_code = {a.code: a for a in loaded.agencies}
    assert by_code["UBND-31507"].name == "Ủy ban nhân dân phường Sóc Trăng"
    assert by_code["UBND-31633"].name == "Ủy ban nhân dân xã Cù Lao Dung"
    assert by_code["UBND-31507"].ward_code == "31507"
    assert set(KEPT_AGENCIES) <= by_code.keys()
    assert by_code["VP-UBND"].kind is AgencyKind.COORDINATOR
    assert loaded.coordinator == "VP-UBND"
    assert {a.kind for a in loaded.agencies} == set(AgencyKind)


def test_merged_departments_are_closed_with_their_successor(loaded: ReferenceData) -> None:
    """The 2025 mergers: Giao thông vận tải -> Xây dựng, Tài nguyên và Môi trường -> Nông nghiệp và Môi trường,
    closed from 1 March 2025 in the province's time zone."""
    by_code = {a.code: a for a in loaded.agencies}
    march_first = datetime(2025, 3, 1, tzinfo=TIMEZONE)
    for old, new in (("SGTVT-ST", "SXD"), ("STNMT-ST", "SNNMT"), ("SNNPTNT-ST", "SNNMT")):
        assert by_code[old].valid_to == march_first
        assert by_code[old].replaced_by == new
        assert not by_code[old].valid_at(NOW)
        assert by_code[new].valid_at(NOW)


def test_every_shape_of_rule_is_in_the_file(loaded: ReferenceData) -> None:
    """Category-wide, ward (made per ward for local categories), named area, urgent, dated; khac goes to triage."""
    rules = loaded.rules
    assert any(r.category == "giao-thong" and r.agency == "SXD" and r.ward_code is None for r in rules)
    rubbish = [r for r in rules if r.category == "rac-thai" and r.ward_code is not None]
    assert len(rubbish) == 103
    assert all(r.agency == f"UBND-{r.ward_code}" and r.co_agencies == ("CTDT",) for r in rubbish)
    assert any(r.category == "khai-thac-cat" and r.area_code == "945" and r.co_agencies == ("CA",) for r in rules)
    urgent = [r for r in rules if r.category == "thien-tai" and r.urgent]
    assert [(r.agency, r.co_agencies) for r in urgent] == [("PCCC", ("SNNMT",))]
    assert loaded.triage_categories == {"khac"}
    assert not any(r.category == "khac" for r in rules)


def test_the_holidays_list_is_no_longer_required() -> None:
    """The calendar comes from the holidays package: a file with or without the old key loads the same."""
    assert "holidays" not in reference_file()
    assert parse(small_file()) == parse(small_file(holidays=["2026-01-01"]))


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"rules": [{"category": "duong", "agency": "SXD"}, {"category": "duong", "agency": "NOBODY",
                                                           "urgent": True}]}, "unknown agency NOBODY"),
        ({"rules": [{"category": "duong", "agency": "SXD"}, {"category": "other", "agency": "SXD"}]},
         "unknown category"),
        ({"rules": [{"category": "duong", "agency": "SXD"}, {"category": "duong", "agency": "SXD"}]},
         "same category, place, urgency and valid_from"),
        ({"rules": []}, "category duong: no category-wide rule"),
        ({"rules": [{"category": "duong", "agency": "SXD", "ward_code": "31507", "area_code": "941"},
                    {"category": "duong", "agency": "SXD"}]}, "names both a ward and an area"),
        ({"rules": [{"category": "duong", "agency": "SXD"}, {"category": "duong", "local": True, "agency": "SXD"}]},
         "a local rule names neither agency nor place"),
        ({"rules": [{"category": "duong", "agency": "SXD", "area_code": "999"},
                    {"category": "duong", "agency": "SXD"}]}, "unknown area 999"),
        ({"coordinator": "SXD"}, "coordinator SXD must be"),
        ({"agencies": [{"code": "VP", "kind": "coordinator", "name": "Điều phối"},
                       {"code": "SXD", "kind": "department", "name": "Sở Xây dựng", "replaced_by": "OLD"},
                       {"code": "OLD", "kind": "department", "name": "Sở cũ", "replaced_by": "SXD"}]},
         "replacements form a cycle"),
        ({"agencies": [{"code": "VP", "kind": "coordinator", "name": "Điều phối"},
                       {"code": "SXD", "kind": "department", "name": "Sở Xây dựng", "valid_to": "2025-03-01"}]},
         "outlives its agency SXD"),
        ({"agencies": [{"code": "VP", "kind": "coordinator", "name": "Điều phối"},
                       {"code": "SXD", "kind": "department", "name": "Sở Xây dựng"},
                       {"code": "UBND-31507", "kind": "ward_committee", "name": "UBND", "ward_code": "31507"}]},
         "made by the loader"),
        ({"agencies": [{"code": "VP", "kind": "coordinator", "name": "Điều phối"},
                       {"code": "SXD", "kind": "department", "name": "Sở Xây dựng"},
                       {"code": "sở xd", "kind": "police", "name": "Công an"}]}, "code must be upper-case"),
    ],
)  # fmt: skip
def test_a_contradictory_agencies_file_is_refused(changes: dict[str, Any], problem: str) -> None:
    """Each kind of mistake in the agencies file stops the load with a message that names it."""
    with pytest.raises(ReferenceFileError, match=problem):
        parse(small_file(**changes))


def test_a_triage_category_needs_no_rule_but_may_not_have_one() -> None:
    """A category listed for triage goes unrouted on purpose; listed and routed at once is a contradiction."""
    categories = (category("duong"), category("khac"))
    assert parse(small_file(triage_categories=["khac"]), categories).triage_categories == {"khac"}
    with pytest.raises(ReferenceFileError, match="both a triage category and routed"):
        parse(small_file(triage_categories=["duong", "khac"]), categories)
    assert parse(small_file(), (category("duong"), category("old", active=False))).rules  # inactive: no rule needed


def test_local_rules_make_one_rule_per_ward() -> None:
    """`local: true` gives each ward's committee the category in its ward, with the listed co-processors."""
    data = small_file(rules=[{"category": "duong", "agency": "SXD"}, {"category": "duong", "local": True,
                                                                     "co_agencies": ["SXD"]}])  # fmt: skip
    ward_rules = sorted((r.ward_code, r.agency, r.co_agencies) for r in parse(data).rules if r.ward_code)
    assert ward_rules == [("31507", "UBND-31507", ("SXD",)), ("31528", "UBND-31528", ("SXD",))]


def test_replacement_cycles_are_found() -> None:
    """A -> B -> A is a cycle; A -> B -> C is not."""
    assert replacement_cycle("A", "B", {"B": "A"})
    assert not replacement_cycle("A", "B", {"B": "C", "C": None})


def test_categories_keep_the_files_order() -> None:
    """The table's position follows the file, so forms list categories as the file does."""
    entries = categories_from(reference.categories(), reference.fields())
    assert [e.position for e in entries] == list(range(1, len(entries) + 1))
    assert entries[0].field_name == "Thủ tục hành chính và công vụ"


# --- planning a load -------------------------------------------------------------------------------------------


def stored(data: ReferenceData) -> tuple[dict[str, AgencyEntry], dict[Any, RuleEntry], dict[str, CategoryEntry]]:
    """The tables as they are right after `data` was loaded."""
    rules = {r.key: dataclasses.replace(r, id=n) for n, r in enumerate(data.rules, start=1)}
    return {a.code: a for a in data.agencies}, rules, {c.code: c for c in data.categories}


def test_loading_the_same_data_twice_changes_nothing() -> None:
    """Against tables that hold the file already, the plan is empty: the loader is idempotent."""
    data = parse(small_file())
    assert parse(small_file()) == data
    plan = plan_load(data, *stored(data), NOW)
    assert plan.changes == ()
    assert plan.kept == ()


def test_a_first_load_writes_everything() -> None:
    """Empty tables: one change per agency (ward committees too), rule and category, each a new row."""
    data = parse(small_file())
    plan = plan_load(data, {}, {}, {}, NOW)
    assert len(plan.changes) == len(data.agencies) + len(data.rules) + len(data.categories) == 6
    assert all(c.before is None for c in plan.changes)


def test_rows_an_admin_changed_are_kept_and_reported() -> None:
    """A real address set through the admin API survives the next load; the file's own changes still apply."""
    data = parse(small_file())
    agencies, rules, categories = stored(data)
    agencies["SXD"] = dataclasses.replace(agencies["SXD"], email="real@soxaydung.gov.vn", source=Source.ADMIN)
    agencies["VP"] = dataclasses.replace(agencies["VP"], name="Tên cũ")
    plan = plan_load(data, agencies, rules, categories, NOW)
    assert [(c.kind, c.key) for c in plan.kept] == [("agency", "SXD")]
    assert [(c.kind, c.key, getattr(c.after, "name", None)) for c in plan.changes] == [("agency", "VP", "Điều phối")]


def test_rules_the_file_dropped_are_retired_and_admin_rules_stay() -> None:
    """A rule the loader wrote and the file no longer lists ends now (a future one is removed); an admin's rule
    is not the file's business."""
    data = parse(small_file())
    agencies, rules, categories = stored(data)
    dropped = RuleEntry("duong", "SXD", ward_code="31507", id=90)
    future = RuleEntry("duong", "SXD", ward_code="31528", valid_from=NOW + timedelta(days=3), id=91)
    admin = RuleEntry("duong", "VP", area_code="941", id=92, source=Source.ADMIN)
    rules |= {r.key: r for r in (dropped, future, admin)}
    plan = plan_load(data, agencies, rules, categories, NOW)
    assert [(c.before, c.after) for c in plan.changes] == [
        (dropped, dataclasses.replace(dropped, valid_to=NOW)),
        (future, None),
    ]
