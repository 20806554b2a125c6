"""One model per event type and version. No personal data: ids and non-personal fields only.

Free text that travels (the title) is masked by the producer: a phone number or an email typed into a
title never reaches Kafka.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from paht_shared.contracts.base import EventData
from paht_shared.contracts.status import Channel, ReportStatus


class MediaRef(EventData):
    """A file attached to a report, with the SHA-256 (hex) of the upload token the submitter showed: media
    claims the file for the report only if it matches the token it gave the uploader (never the token)."""

    media_id: uuid.UUID
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @classmethod
    def proof(cls, media_id: uuid.UUID, upload_token: str) -> MediaRef:
        """The reference an event carries for a file its uploader attached with `upload_token`."""
        return cls(media_id=media_id, token_sha256=hashlib.sha256(upload_token.encode()).hexdigest())


class ReportSubmittedV1(EventData):
    """intake -> report.submitted.v1: a report was stored, whatever its channel."""

    event_type = "report.submitted"
    schema_version = 1

    report_id: uuid.UUID
    tracking_code: str
    channel: Channel
    category: str
    title: str
    ward_code: str | None = None  # None when only a map point was given (routing resolves it)
    lat: float | None = None
    lon: float | None = None
    occurred_at: datetime | None = None
    submitted_at: datetime
    public: bool
    anonymous: bool
    media_ids: tuple[uuid.UUID, ...] = ()
    # Added without a new version (optional, with defaults: a v1 reader of an older record still reads it).
    received_at: datetime | None = None  # the official reception time: deadlines count from it
    content: str | None = None  # masked like the title: what the agency reads
    address_text: str | None = None  # masked like the title
    area_code: str | None = None  # a former district named in the address (statistics, routing by area)
    identity_shared: bool = False  # the reporter consented to agencies seeing who they are, and is not anonymous
    emergency: bool = False  # only the hotline channel sets it
    media: tuple[MediaRef, ...] = ()  # the attached files with their proof of upload (media_ids lists the same ids)
    # How to reach the reporter, sealed for notify alone (paht_shared.sealing: notify's public key): email,
    # phone, app device token and the channels they chose. Opaque to everyone else on the way.
    contact_sealed: str | None = None
    # What the reporter still has to give ("category", "location"): a channel that cannot ask back at once
    # (an email) keeps the report instead of refusing it; routing sends it to triage as needs_info. A report
    # missing its category carries TRIAGE_CATEGORY.
    missing: tuple[str, ...] = ()
    operator_id: str | None = None  # the hotline operator (staff subject) who entered the report


# The category a report carries while its reporter has not said which one it is (the coordinator's triage).
TRIAGE_CATEGORY = "khac"
# What a reporter is told each missing field is (ReportSubmittedV1.missing), and the reason code of the
# status change that asks for them: notify's first reply already asked, so it does not ask a second time.
MISSING_FIELD_LABELS = {
    "category": "lĩnh vực phản ánh (ví dụ: môi trường, giao thông, đô thị)",
    "location": "địa điểm xảy ra (phường/xã và địa chỉ cụ thể)",
}
MISSING_FIELDS = "missing_fields"


def missing_question(missing: tuple[str, ...]) -> str:
    """The request for what an incomplete report lacks, as the reporter reads it."""
    wanted = "; ".join(MISSING_FIELD_LABELS.get(field, field) for field in missing)
    return f"Phản ánh của bạn còn thiếu: {wanted}. Vui lòng bổ sung để chúng tôi chuyển đến cơ quan có thẩm quyền."


class AssignedAgency(EventData):
    """The fields that routing's assignment events share; never published on its own (it has no type)."""

    report_id: uuid.UUID
    tracking_code: str
    category: str
    ward_code: str | None = None
    title: str
    agency_code: str
    agency_name: str
    due_at: datetime
    triage: bool


class ReportRoutedV1(AssignedAgency):
    """routing -> report.routed.v1: the lead agency and the answer deadline of a report."""

    event_type = "report.routed"
    schema_version = 1

    routed_at: datetime


class AgencyAssignmentV1(AssignedAgency):
    """routing -> agency.<code>.inbox.v1: one item of an agency's own work queue."""

    event_type = "agency.assignment"
    schema_version = 1

    assigned_at: datetime


class ReportStatusChangedV1(EventData):
    """routing -> report.status_changed.v1.

    `sequence` grows by one with each status change of a report (routing owns the lifecycle and numbers
    it): a consumer applies a change only if its sequence is newer than the one it holds, so an event that
    arrives late (a dead-letter replay, a rebalance) never moves a report backwards.
    """

    event_type = "report.status_changed"
    schema_version = 1

    report_id: uuid.UUID
    sequence: int = Field(ge=1)
    status: ReportStatus
    changed_at: datetime
    tracking_code: str
    category: str
    title: str
    ward_code: str | None = None
    agency_code: str | None = None
    agency_name: str | None = None
    agency_email: str | None = None
    due_at: datetime | None = None
    triage: bool = False
    note: str | None = None
    # What the agency tells the citizen with this change (the answer, the question of a request for more
    # information, the reason of a rejection), masked by the producer; and the media it attaches.
    message: str | None = None
    media_ids: tuple[uuid.UUID, ...] = ()
    reason_code: str | None = None
    emergency: bool = False  # a hotline emergency: told at once, never held for an agency's digest
    # The files of the agency's answer with their upload token's hash: media claims them for the report
    # (public with a public report). media_ids lists the same ids.
    media: tuple[MediaRef, ...] = ()


class ReportRatedV1(EventData):
    """intake -> report.citizen_actions.v1: the citizen rated the answer."""

    event_type = "report.rated"
    schema_version = 1

    report_id: uuid.UUID
    tracking_code: str
    rating: Literal["hai_long", "chap_nhan_duoc", "khong_hai_long"]
    comment: str | None = None  # masked
    rated_at: datetime


class ReportReopenedV1(EventData):
    """intake -> report.citizen_actions.v1: the citizen reopened an answered report, within the window."""

    event_type = "report.reopened"
    schema_version = 1

    report_id: uuid.UUID
    tracking_code: str
    reason: str  # masked
    reopen_count: int = Field(ge=1)
    reopened_at: datetime


class InformationProvidedV1(EventData):
    """intake -> report.citizen_actions.v1: the citizen answered a request for more information
    (the deadline, paused since the request, runs again)."""

    event_type = "report.information_provided"
    schema_version = 1

    report_id: uuid.UUID
    tracking_code: str
    text: str  # masked
    media_ids: tuple[uuid.UUID, ...] = ()
    provided_at: datetime
    # The files the citizen attached with their upload token's hash: media claims them for the report (never
    # public); media_ids lists the same ids.
    media: tuple[MediaRef, ...] = ()


class ReportDeadlineV1(EventData):
    """routing -> report.deadlines.v1: an agency's answer is due within a working day, or overdue (the
    coordinator is told too: `escalated_to`)."""

    event_type = "report.deadline"
    schema_version = 1

    report_id: uuid.UUID
    tracking_code: str
    category: str
    kind: Literal["due_soon", "overdue"]
    agency_code: str
    agency_name: str
    agency_email: str | None = None
    due_at: datetime
    escalated_to: str | None = None
    at: datetime


class NotificationPreferencesV1(EventData):
    """intake -> report.citizen_actions.v1: the reporter turned a channel of their notifications on or off."""

    event_type = "report.notification_preferences"
    schema_version = 1

    report_id: uuid.UUID
    tracking_code: str
    email: bool
    sms: bool
    push: bool
    changed_at: datetime


class NotificationSentV1(EventData):
    """notify -> notification.sent.v1: a message went out (never its recipient's address)."""

    event_type = "notification.sent"
    schema_version = 1

    delivery_id: uuid.UUID
    report_id: uuid.UUID
    channel: Literal["email", "sms", "push"]
    audience: Literal["citizen", "agency"]
    agency_code: str | None = None
    sent_at: datetime


class MediaUploadedV1(EventData):
    """media -> media.uploaded.v1: an upload is in quarantine; the media worker sanitises it off the request path."""

    event_type = "media.uploaded"
    schema_version = 1

    media_id: uuid.UUID
    kind: Literal["image", "video", "audio"]
    content_type: str
    size_bytes: int = Field(ge=0)
    uploaded_at: datetime


class MediaStoredV1(EventData):
    """media -> media.stored.v1: an upload passed the checks and its sanitised derivatives exist."""

    event_type = "media.stored"
    schema_version = 1

    media_id: uuid.UUID
    kind: Literal["image", "video", "audio"]
    content_type: str
    size_bytes: int = Field(ge=0)
    stored_at: datetime
    derivatives: tuple[str, ...] = ()  # the names of the sanitised files that may be served ("display", ...)


class MediaRejectedV1(EventData):
    """media -> media.rejected.v1: an upload was refused after inspection (the reason is a code)."""

    event_type = "media.rejected"
    schema_version = 1

    media_id: uuid.UUID
    reason: str
    rejected_at: datetime


# Every payload model the platform publishes, newest version of each type last.
PUBLISHED: tuple[type[EventData], ...] = (
    ReportSubmittedV1,
    ReportRoutedV1,
    AgencyAssignmentV1,
    ReportStatusChangedV1,
    ReportRatedV1,
    ReportReopenedV1,
    InformationProvidedV1,
    ReportDeadlineV1,
    NotificationPreferencesV1,
    NotificationSentV1,
    MediaUploadedV1,
    MediaStoredV1,
    MediaRejectedV1,
)
