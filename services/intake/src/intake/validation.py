"""A submission, from raw JSON to a checked command: every failing field at once, each with a code.

Three passes, all of which run so that the citizen sees every problem in one answer:
shapes and formats (pydantic, models.py), presence (which fields this case requires, domain.py), and
references (the category exists and is active; the place is inside the tenant's area).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from intake import domain
from intake.messages import FieldError, field_error
from intake.models import SubmitReport
from paht_shared import reference
from paht_shared.contracts import TRIAGE_CATEGORY, Channel
from paht_shared.reference import Area

# What the platform decides, not the client: sent anyway, it is refused rather than silently dropped.
CLIENT_MAY_NOT_SET = frozenset(
    {"id", "status", "agency", "agency_code", "emergency", "urgent", "priority", "tracking_code", "due_at",
     "received_at", "submitted_at", "operator_id", "reporter_id"}
)  # fmt: skip

_PYDANTIC_TO_CODE = {
    "missing": "missing",
    "string_too_short": "too_short",
    "string_too_long": "too_long",
    "too_short": "too_short",
    "too_long": "too_long",
    "greater_than_equal": "out_of_range",
    "less_than_equal": "out_of_range",
    "finite_number": "out_of_range",
    "datetime_from_date_parsing": "invalid_datetime",
    "datetime_parsing": "invalid_datetime",
    "datetime_type": "invalid_datetime",
    "datetime_object_invalid": "invalid_datetime",
    "literal_error": "channel_not_allowed",
    "enum": "invalid_rating",
    "string_type": "wrong_type",
    "bool_type": "wrong_type",
    "float_type": "wrong_type",
    "float_parsing": "wrong_type",
    "list_type": "wrong_type",
    "model_type": "wrong_type",
    "model_attributes_type": "wrong_type",
    "dict_type": "wrong_type",
    "uuid_parsing": "invalid",
    "uuid_type": "invalid",
}
_OWN_CODES = frozenset(
    {
        "invalid_name",
        "invalid_phone",
        "invalid_cccd",
        "cccd_province",
        "cccd_birth_year",
        "in_future",
        "too_old",
        "duplicate",
    }
)


class InvalidRequest(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("invalid request")
        self.errors = errors


@dataclass(frozen=True)
class TenantArea:
    """The tenant's wards, named areas and map bounds, and the time limits of a report."""

    wards: Mapping[str, str]
    ward_names: Mapping[str, str]
    areas: tuple[Area, ...]
    bbox: tuple[float, float, float, float]
    max_report_age: timedelta
    clock_skew: timedelta

    @classmethod
    def of(
        cls,
        province_code: int,
        bbox: tuple[float, float, float, float],
        max_report_age: timedelta,
        clock_skew: timedelta,
    ) -> TenantArea:
        wards = reference.wards(province_code)
        return cls(wards, domain.ward_lookup(wards), reference.areas(), bbox, max_report_age, clock_skew)


@dataclass(frozen=True)
class CheckedReport:
    cmd: SubmitReport
    ward_code: str | None
    area_code: str | None
    # What the reporter still has to give ("category", "location"): only channels that keep an incomplete
    # report instead of refusing it (inbound email) ever have any.
    missing: tuple[str, ...] = ()
    emergency: bool = False  # a hotline operator's call; no other channel can set it
    operator_id: str | None = None  # the hotline operator who entered the report

    @property
    def channel(self) -> Channel:
        return Channel(self.cmd.channel)  # the models narrow it per channel; here it is any channel

    @property
    def category(self) -> str:
        """The report's category; TRIAGE_CATEGORY while the reporter has not said which one it is."""
        return self.cmd.category or TRIAGE_CATEGORY


def pydantic_errors(exc: ValidationError) -> list[FieldError]:
    """pydantic errors as {field, code, message}; never echoes the input (it may be personal data)."""
    errors = []
    for err in exc.errors(include_input=False, include_url=False, include_context=False):
        field = ".".join(_field_name(p) for p in err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            code = "field_not_allowed" if str(err["loc"][-1]) in CLIENT_MAY_NOT_SET else "unknown_field"
        elif kind in _OWN_CODES:
            code = kind
        elif kind == "value_error" and field.endswith("email"):
            code = "invalid_email"
        elif kind == "too_long" and field in ("media", "media_ids"):
            code = "too_many"
        else:
            code = _PYDANTIC_TO_CODE.get(kind, "invalid")
        errors.append(field_error(field, code))
    return errors


_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,40}")


def _field_name(part: str | int) -> str:
    """A path element as the error names it: an unknown key is named only if it looks like a field name
    (a client may send anything as a key, a phone number included)."""
    text = str(part)
    return text if isinstance(part, int) or _IDENTIFIER.fullmatch(text) else "?"


# Fields a channel may leave for later (COMPLETABLE): the report is kept and the reporter asked for them.
COMPLETABLE = frozenset({"category", "location"})


def check_submission(
    raw: dict[str, Any],
    tenant: TenantArea,
    now: datetime,
    model: type[SubmitReport] = SubmitReport,
    completable: frozenset[str] = frozenset(),
) -> CheckedReport:
    """The command, or InvalidRequest listing every failing field (at most one error per field).

    `model`: the shapes of the channel (the web form's by default). `completable`: the fields of COMPLETABLE
    that, when absent, are listed in CheckedReport.missing instead of refused."""
    context = {"now": now, "clock_skew": tenant.clock_skew, "max_report_age": tenant.max_report_age}
    cmd: SubmitReport | None = None
    missing: list[str] = []
    try:
        cmd = model.model_validate(raw, context=context)
    except ValidationError as exc:
        errors = pydantic_errors(exc)
    else:
        errors = []
    failed = {e["field"] for e in errors}

    def add(field: str, code: str) -> None:
        if field not in failed and not any(f.startswith(field + ".") for f in failed):
            failed.add(field)
            errors.append(field_error(field, code))

    for field in ("title", "content", "category"):
        if _blank(raw.get(field)):
            if field in completable:
                missing.append(field)
            else:
                add(field, "missing")
    default_channel = model.model_fields["channel"].default  # the channel a model fixes (the hotline's)
    _check_identity(raw, add, default_channel if isinstance(default_channel, Channel) else None)
    category = raw.get("category")
    if isinstance(category, str) and category:
        known = reference.category(category)
        if known is None:
            add("category", "unknown_category")
        elif not known.active:
            add("category", "inactive_category")
        elif raw.get("public") is True and not known.public_allowed:
            add("public", "public_not_allowed")

    def add_place(field: str, code: str) -> None:
        if "location" in completable and (field, code) == ("location", "location_required"):
            missing.append("location")  # nothing tells where: asked for later, not refused
        else:
            add(field, code)

    ward_code, area_code = _check_place(raw.get("location"), tenant, add_place)
    if errors or cmd is None:
        raise InvalidRequest(errors)
    return CheckedReport(cmd, ward_code, area_code, tuple(missing))


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _check_identity(raw: dict[str, Any], add: Any, default_channel: Channel | None) -> None:
    reporter = raw.get("reporter")
    reporter = reporter if isinstance(reporter, dict) else {}
    given = {k for k, v in reporter.items() if not _blank(v)}
    try:
        channel = Channel(raw.get("channel", default_channel or Channel.WEB))
    except ValueError:
        channel = Channel.WEB  # refused on its own already; judge the rest as the web form would
    anonymous = raw.get("anonymous") is True
    for field in domain.missing_identity(channel, anonymous, given):
        if field == "contact":
            add("reporter.phone", "contact_required")
        else:
            add(f"reporter.{field}", "missing")


def _check_place(location: object, tenant: TenantArea, add: Any) -> tuple[str | None, str | None]:
    """A report needs a ward (by code or by name) or a map point inside the tenant's area, or both."""
    if not isinstance(location, dict):
        add("location", "location_required")
        return None, None
    ward_code: str | None = None
    code = location.get("ward_code")
    if isinstance(code, int) and not isinstance(code, bool):
        code = str(code)
    if isinstance(code, str) and code.strip():
        ward_code = code.strip().zfill(5)
        if ward_code not in tenant.wards:
            add("location.ward_code", "unknown_ward")
            ward_code = None
    name = location.get("ward_name")
    if ward_code is None and isinstance(name, str) and name.strip():
        ward_code = domain.resolve_ward_name(name, tenant.ward_names)
        if ward_code is None:
            add("location.ward_name", "unknown_ward")
    address = location.get("address_text")
    if ward_code is None and isinstance(address, str) and not code and not name:
        ward_code = domain.resolve_ward_name(address.split(",")[0], tenant.ward_names)
    lat, lon = _number(location.get("lat")), _number(location.get("lon"))
    has_point = lat is not None and lon is not None
    if lat is not None and location.get("lon") is None:
        add("location.lon", "missing")
    if lon is not None and location.get("lat") is None:
        add("location.lat", "missing")
    if lat is not None and lon is not None and not domain.inside(lat, lon, tenant.bbox):
        add("location", "outside_area")
    if ward_code is None and not has_point and not code and not name:
        add("location", "location_required")
    area_code = domain.find_area(address, tenant.areas) if isinstance(address, str) else None
    if area_code is None and isinstance(name, str):
        area_code = domain.find_area(name, tenant.areas)
    return ward_code, area_code


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
