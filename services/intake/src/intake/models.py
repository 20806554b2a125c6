"""The citizen/app API contract: request bodies and how their errors read in Vietnamese."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from intake.domain import normalize_cccd, normalize_phone
from paht_shared.contracts import Channel, ReportStatus

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
CLOCK_SKEW = timedelta(minutes=10)  # phones' clocks drift; a few minutes ahead is not a lie
_STRIP = ConfigDict(str_strip_whitespace=True, extra="ignore")


class Reporter(BaseModel):
    model_config = _STRIP

    full_name: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=500)
    cccd: str | None = None
    phone: str
    email: EmailStr | None = None

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        normalized = normalize_phone(value)
        if normalized is None:
            raise PydanticCustomError("invalid_phone", "invalid phone")
        return normalized

    @field_validator("cccd")
    @classmethod
    def _cccd(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        normalized = normalize_cccd(value)
        if normalized is None:
            raise PydanticCustomError("invalid_cccd", "invalid cccd")
        return normalized

    @field_validator("full_name", "address", "email", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


class Location(BaseModel):
    model_config = _STRIP

    ward_code: str = Field(min_length=1, max_length=10)
    address_text: str | None = Field(default=None, max_length=500)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)

    @field_validator("ward_code", mode="before")
    @classmethod
    def _ward_code_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


class Consent(BaseModel):
    use_personal_data: bool = False
    publish: bool = False


class SubmitReport(BaseModel):
    model_config = _STRIP

    channel: Channel = Channel.WEB
    reporter: Reporter
    title: str = Field(min_length=5, max_length=200)
    category: str = Field(min_length=1, max_length=64)
    content: str = Field(min_length=10, max_length=10000)
    location: Location
    occurred_at: datetime | None = None
    public: bool = False
    anonymous: bool = False
    consent: Consent = Consent()
    media_ids: list[uuid.UUID] = Field(default_factory=list, max_length=20)

    @field_validator("occurred_at")
    @classmethod
    def _not_in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # a phone's local time without offset: the province's time zone
            value = value.replace(tzinfo=VIETNAM)
        if value > datetime.now(UTC) + CLOCK_SKEW:
            raise PydanticCustomError("in_future", "in the future")
        return value


class ReportReceipt(BaseModel):
    """The 201 answer to a submission (and, stored encrypted, to its idempotent retries)."""

    id: uuid.UUID
    tracking_code: str
    tracking_secret: str
    status: ReportStatus
    status_label: str
    submitted_at: datetime


class Named(BaseModel):
    code: str
    name: str


class TimelineEntry(BaseModel):
    status: ReportStatus
    status_label: str
    agency: Named | None
    note: str | None
    at: datetime


class TrackedReport(BaseModel):
    """What the reporter sees on the tracking page (never the reporter's own personal data)."""

    id: uuid.UUID
    tracking_code: str
    title: str
    category: Named
    status: ReportStatus
    status_label: str
    agency: Named | None
    due_at: datetime | None
    submitted_at: datetime
    updated_at: datetime
    public: bool
    anonymous: bool
    timeline: list[TimelineEntry]


# field -> what to tell the citizen when it is missing
_MISSING: dict[str, str] = {
    "title": "Vui lòng nhập tiêu đề phản ánh.",
    "content": "Vui lòng nhập nội dung phản ánh.",
    "category": "Vui lòng chọn chuyên mục.",
    "location": "Vui lòng cho biết địa điểm xảy ra sự việc.",
    "location.ward_code": "Vui lòng chọn phường/xã nơi xảy ra sự việc.",
    "reporter": "Vui lòng nhập thông tin người phản ánh.",
    "reporter.phone": "Vui lòng nhập số điện thoại.",
}

_BY_CODE: dict[str, str] = {
    "missing": "Thông tin này là bắt buộc.",
    "invalid_phone": "Số điện thoại không hợp lệ (ví dụ: 0912345678 hoặc +84912345678).",
    "invalid_cccd": "Số CCCD phải gồm đúng 12 chữ số.",
    "invalid_email": "Địa chỉ email không hợp lệ.",
    "too_short": "Nội dung quá ngắn.",
    "too_long": "Nội dung quá dài.",
    "out_of_range": "Giá trị nằm ngoài phạm vi cho phép.",
    "unknown_category": "Chuyên mục không tồn tại. Vui lòng chọn một chuyên mục trong danh sách.",
    "unknown_ward": "Phường/xã không thuộc địa bàn tiếp nhận.",
    "in_future": "Thời điểm xảy ra sự việc không thể ở tương lai.",
    "invalid_datetime": "Thời điểm không đúng định dạng (ví dụ: 2026-11-27T08:30:00+07:00).",
    "invalid": "Giá trị không hợp lệ.",
}

_PYDANTIC_TO_CODE = {
    "missing": "missing",
    "string_too_short": "too_short",
    "string_too_long": "too_long",
    "too_long": "too_long",
    "greater_than_equal": "out_of_range",
    "less_than_equal": "out_of_range",
    "value_error": "invalid_email",  # the only plain value_error here comes from EmailStr
    "datetime_from_date_parsing": "invalid_datetime",
    "datetime_parsing": "invalid_datetime",
    "datetime_type": "invalid_datetime",
}


def field_error(field: str, code: str) -> dict[str, str]:
    message = _MISSING.get(field, _BY_CODE["missing"]) if code == "missing" else _BY_CODE.get(code, _BY_CODE["invalid"])
    return {"field": field, "code": code, "message": message}


def validation_errors(exc: ValidationError) -> list[dict[str, str]]:
    """pydantic errors as {field, code, message}; never echoes the input (it may be personal data)."""
    errors = []
    for err in exc.errors(include_input=False, include_url=False):
        field = ".".join(str(p) for p in err["loc"])
        kind = err["type"]
        if kind in ("invalid_phone", "invalid_cccd", "in_future"):
            code = kind
        elif kind == "value_error" and not field.endswith("email"):
            code = "invalid"
        else:
            code = _PYDANTIC_TO_CODE.get(kind, "invalid")
        if field == "title" and code == "too_short":
            errors.append({"field": field, "code": code, "message": "Tiêu đề cần ít nhất 5 ký tự."})
            continue
        if field == "content" and code == "too_short":
            errors.append({"field": field, "code": code, "message": "Nội dung cần ít nhất 10 ký tự."})
            continue
        errors.append(field_error(field, code))
    return errors
