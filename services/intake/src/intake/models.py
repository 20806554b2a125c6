"""The citizen/app API contract: request bodies (strict: unknown fields are refused) and responses."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from intake.domain import cccd_problem, normalize_cccd, normalize_phone
from paht_shared.contracts import Channel, ReportStatus
from paht_shared.text import clean_name, is_person_name, normalize_text

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
_STRICT = ConfigDict(str_strip_whitespace=True, extra="forbid", allow_inf_nan=False)


def _text(value: Any) -> Any:
    """NFC, no control characters; a blank text counts as not given."""
    if isinstance(value, str):
        value = normalize_text(value)
        return value or None
    return value


def _required_text(value: Any) -> Any:
    """NFC, no control characters; blank stays blank (and fails the length check)."""
    return normalize_text(value) if isinstance(value, str) else value


# Length limits apply to the text after normalisation; a blank optional text is "not given", a blank
# required one fails its length check.
Title = Annotated[Annotated[str, StringConstraints(min_length=5, max_length=200)] | None, BeforeValidator(_text)]
Content = Annotated[Annotated[str, StringConstraints(min_length=20, max_length=5000)] | None, BeforeValidator(_text)]
ShortText = Annotated[Annotated[str, StringConstraints(min_length=1, max_length=500)] | None, BeforeValidator(_text)]
WardName = Annotated[Annotated[str, StringConstraints(min_length=1, max_length=200)] | None, BeforeValidator(_text)]
Comment = Annotated[Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None, BeforeValidator(_text)]
Reason = Annotated[str, StringConstraints(min_length=10, max_length=2000), BeforeValidator(_required_text)]
Reply = Annotated[str, StringConstraints(min_length=10, max_length=5000), BeforeValidator(_required_text)]


class Reporter(BaseModel):
    model_config = _STRICT

    full_name: Annotated[str, StringConstraints(min_length=2, max_length=100)] | None = None
    address: ShortText = None
    cccd: str | None = None
    phone: str | None = None
    email: Annotated[EmailStr, Field(max_length=254)] | None = None

    @field_validator("full_name", mode="before")
    @classmethod
    def _name_spacing(cls, value: Any) -> Any:
        return (clean_name(value) or None) if isinstance(value, str) else value

    @field_validator("full_name")
    @classmethod
    def _name_letters(cls, value: str | None) -> str | None:
        if value is not None and not is_person_name(value):
            raise PydanticCustomError("invalid_name", "invalid name")
        return value

    @field_validator("email", "phone", "cccd", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        normalized = normalize_phone(value)
        if normalized is None:
            raise PydanticCustomError("invalid_phone", "invalid phone")
        return normalized

    @field_validator("cccd")
    @classmethod
    def _cccd(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        problem = cccd_problem(value, _now(info).astimezone(VIETNAM).date())
        if problem is not None:
            raise PydanticCustomError(problem, "invalid cccd")
        return normalize_cccd(value)

    def given(self) -> set[str]:
        return {name for name, value in self.model_dump().items() if value is not None}


class Location(BaseModel):
    model_config = _STRICT

    ward_code: Annotated[str, StringConstraints(max_length=10)] | None = None
    # A ward typed by name, current or former spelling ("P. Phú Lợi"): resolved to a ward code.
    ward_name: WardName = None
    address_text: ShortText = None
    lat: Annotated[float | None, Field(ge=-90, le=90)] = None
    lon: Annotated[float | None, Field(ge=-180, le=180)] = None

    @field_validator("ward_code", mode="before")
    @classmethod
    def _ward_code_text(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return value  # refused below as the wrong type
        return str(value) if isinstance(value, int) else value


class Consent(BaseModel):
    model_config = _STRICT

    use_personal_data: StrictBool = False  # agencies may see who reported (handling the report)
    publish: StrictBool = False  # the report (never the reporter) may be shown to the public


class Attachment(BaseModel):
    """A file uploaded to the media service, with the upload token it gave the uploader: only the person
    who uploaded a file can attach it (media checks the token's hash when the report arrives)."""

    model_config = _STRICT

    id: uuid.UUID
    upload_token: Annotated[str, StringConstraints(min_length=20, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]


class NotificationChoice(BaseModel):
    """Which channels tell the reporter about their report: email, SMS (the phone), app push (device token)."""

    model_config = _STRICT

    email: StrictBool
    sms: StrictBool
    push: StrictBool


# An FCM/APNs registration token or similar; only this alphabet, so it can never carry markup or spaces.
DeviceToken = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9:_\-.]{10,4096}$")]


class SubmitReport(BaseModel):
    """A citizen's report from the web form or the app. Which fields are required depends on the case
    (domain.missing_identity); the presence rules run in validation.py, after the shapes here."""

    model_config = _STRICT

    channel: Literal[Channel.WEB, Channel.APP] = Channel.WEB
    reporter: Reporter = Reporter()
    title: Title = None
    category: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    content: Content = None
    location: Location = Location()
    occurred_at: datetime | None = None
    public: StrictBool = False
    anonymous: StrictBool = False
    consent: Consent = Consent()
    media: Annotated[list[Attachment], Field(max_length=10)] = Field(default_factory=list)
    # Absent: each channel the reporter gave an address for (handlers check a chosen channel has one).
    notifications: NotificationChoice | None = None
    device_token: DeviceToken | None = None  # the app's push address; the app channel only

    @field_validator("media")
    @classmethod
    def _each_file_once(cls, value: list[Attachment]) -> list[Attachment]:
        if len({a.id for a in value}) != len(value):
            raise PydanticCustomError("duplicate", "a file attached twice")
        return value

    @property
    def media_ids(self) -> list[uuid.UUID]:
        return [a.id for a in self.media]

    @field_validator("occurred_at")
    @classmethod
    def _occurred_when(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # a phone's local time without offset: the province's time zone
            value = value.replace(tzinfo=VIETNAM)
        now = _now(info)
        context = info.context or {}
        if value > now + context["clock_skew"]:
            raise PydanticCustomError("in_future", "in the future")
        if value < now - context["max_report_age"]:
            raise PydanticCustomError("too_old", "too old")
        return value


class ChannelReport(SubmitReport):
    """A report another channel's adapter (inbound email, Open311) built from what it received; the same
    shapes and rules as the web form, only the channel is the adapter's."""

    channel: Channel  # type: ignore[assignment]  # widened: set by the adapter, never by a citizen's JSON


class OperatorReport(SubmitReport):
    """A caller's report as a hotline 1022 operator enters it: the caller's identity as given, and whether
    it is an emergency (khẩn cấp). Only this channel may say so."""

    channel: Literal[Channel.HOTLINE] = Channel.HOTLINE  # type: ignore[assignment]
    emergency: StrictBool = False


def _now(info: ValidationInfo) -> datetime:
    context = info.context or {}
    now: datetime = context["now"]
    return now


class ReportReceipt(BaseModel):
    """The 201 answer to a submission (and, stored encrypted, to its idempotent retries)."""

    id: uuid.UUID
    tracking_code: str
    tracking_secret: str
    status: ReportStatus
    status_label: str
    submitted_at: datetime
    # The official reception time: the next office-hours moment; deadlines count from it.
    received_at: datetime


class Rating(StrEnum):
    SATISFIED = "hai_long"
    ACCEPTABLE = "chap_nhan_duoc"
    DISSATISFIED = "khong_hai_long"

    @property
    def label(self) -> str:
        return {"hai_long": "Hài lòng", "chap_nhan_duoc": "Chấp nhận được", "khong_hai_long": "Không hài lòng"}[
            self.value
        ]


class RateAnswer(BaseModel):
    model_config = _STRICT

    rating: Rating
    comment: Comment = None


class ReopenReport(BaseModel):
    model_config = _STRICT

    reason: Reason


class ProvideInformation(BaseModel):
    model_config = _STRICT

    text: Reply
    # The files the citizen uploaded with this reply, with their upload tokens: media keeps them for the
    # report. `media_ids` (ids alone, from before) are listed but never claimed, so media deletes them.
    media: Annotated[list[Attachment], Field(max_length=10)] = Field(default_factory=list)
    media_ids: Annotated[list[uuid.UUID], Field(max_length=10)] = Field(default_factory=list)

    @property
    def attached(self) -> list[uuid.UUID]:
        return list(dict.fromkeys([*self.media_ids, *(a.id for a in self.media)]))


class Named(BaseModel):
    code: str
    name: str


class TimelineEntry(BaseModel):
    status: ReportStatus
    status_label: str
    actor: Literal["citizen", "agency", "system"]
    agency: Named | None
    note: str | None
    at: datetime


class InformationRequest(BaseModel):
    question: str
    asked_at: datetime
    reply: str | None
    replied_at: datetime | None


class Answer(BaseModel):
    text: str
    media_ids: list[uuid.UUID]
    agency: Named | None
    answered_at: datetime
    on_time: bool | None


class GivenRating(BaseModel):
    rating: Rating
    label: str
    comment: str | None
    rated_at: datetime


class NextAction(BaseModel):
    action: Literal["provide_info", "rate", "reopen"]
    until: datetime | None


class TrackedReport(BaseModel):
    """What the reporter sees on the tracking page (never the reporter's own personal data)."""

    id: uuid.UUID
    tracking_code: str
    title: str
    content: str
    category: Named
    ward: Named | None
    status: ReportStatus
    status_label: str
    agency: Named | None
    due_at: datetime | None
    submitted_at: datetime
    received_at: datetime
    updated_at: datetime
    public: bool
    anonymous: bool
    information_requests: list[InformationRequest]
    answer: Answer | None
    rating: GivenRating | None
    next_actions: list[NextAction]
    timeline: list[TimelineEntry]
    notifications: NotificationChoice


class PublicReport(BaseModel):
    """A public report as anyone may see it: personal data masked, never the reporter."""

    tracking_code: str
    title: str
    content: str
    category: Named
    ward: Named | None
    area: Named | None
    status: ReportStatus
    status_label: str
    agency: Named | None
    submitted_at: datetime
    answer: Answer | None
    timeline: list[TimelineEntry] | None = None
    # The map point the reporter gave, if any: where the problem is (Open311's public view shows it too).
    lat: float | None = None
    lon: float | None = None


class PublicFilters(BaseModel):
    """Query of the public list. `words`: folded search words (no diacritics needed)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    category: str | None = Field(default=None, max_length=64)
    ward_code: str | None = Field(default=None, max_length=10)
    status: ReportStatus | None = None
    since: datetime | None = None
    until: datetime | None = None
    words: str | None = Field(default=None, max_length=200)
    page: int = Field(default=1, ge=1, le=10_000)
    per_page: int = Field(default=20, ge=1, le=100)


class PublicPage(BaseModel):
    items: list[PublicReport]
    page: int
    per_page: int
    total: int


class Share(BaseModel):
    answered: int
    answered_on_time: int
    on_time_ratio: float | None


class PublicStats(BaseModel):
    total: int
    by_category: list[dict[str, Any]]
    by_ward: list[dict[str, Any]]
    by_status: list[dict[str, Any]]
    by_month: dict[str, int]
    answers: Share
