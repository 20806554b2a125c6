"""Validation errors: field, machine-readable code, Vietnamese message, never the input echoed."""

from __future__ import annotations

import json

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
    assert cmd.reporter.phone == "+84912345678"
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
