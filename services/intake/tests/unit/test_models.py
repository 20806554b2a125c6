"""Validation errors: field, machine-readable code, Vietnamese message, never the input echoed."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from pydantic import ValidationError

from intake.models import SubmitReport, validation_errors
from paht_shared.testing import pii


def errors_for(body: dict[str, object]) -> list[dict[str, str]]:
    with pytest.raises(ValidationError) as info:
        SubmitReport.model_validate(body)
    return validation_errors(info.value)


def test_the_contract_body_is_valid() -> None:
    """The issue's example body parses, with the phone normalised."""
    cmd = SubmitReport.model_validate(pii.sample_report())
    assert cmd.reporter.phone == "+84" + pii.PHONE[1:]
    assert cmd.location.ward_code == "31507"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (("title",), "title"),
        (("content",), "content"),
        (("category",), "category"),
        (("location", "ward_code"), "location.ward_code"),
        (("reporter", "phone"), "reporter.phone"),
    ],
)
def test_each_required_field_missing_is_named(path: tuple[str, ...], field: str) -> None:
    """A missing required field gives code `missing` and a Vietnamese message for that field."""
    body = json.loads(json.dumps(pii.sample_report()))
    target = body
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    errors = errors_for(body)
    assert errors == [{"field": field, "code": "missing", "message": errors[0]["message"]}]
    assert errors[0]["message"].startswith("Vui lòng")


def test_bad_values_get_specific_codes_without_echoing_input() -> None:
    """Invalid phone, CCCD and email each have their own code; the body never contains the input."""
    body = pii.sample_report()
    body["reporter"] = {**body["reporter"], "phone": "12345", "cccd": "0940900012", "email": "not-an-email"}  # type: ignore[dict-item]
    errors = errors_for(body)
    assert {(e["field"], e["code"]) for e in errors} == {
        ("reporter.phone", "invalid_phone"),
        ("reporter.cccd", "invalid_cccd"),
        ("reporter.email", "invalid_email"),
    }
    text = json.dumps(errors, ensure_ascii=False)
    assert "0940900012" not in text
    assert "not-an-email" not in text


def test_occurred_at_in_the_future_or_malformed_is_refused() -> None:
    """A report cannot describe tomorrow; a time without offset is read as Vietnam time."""
    body = pii.sample_report()
    body["occurred_at"] = "2099-01-01T08:00:00+07:00"
    assert [(e["field"], e["code"]) for e in errors_for(body)] == [("occurred_at", "in_future")]
    body["occurred_at"] = "hôm qua"
    assert [(e["field"], e["code"]) for e in errors_for(body)] == [("occurred_at", "invalid_datetime")]
    body["occurred_at"] = "2026-11-27T08:30:00"
    parsed = SubmitReport.model_validate(body).occurred_at
    assert parsed is not None
    assert parsed.utcoffset() == timedelta(hours=7)
