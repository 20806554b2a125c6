"""Event contracts are code: topic names, the report status enum, one pydantic model per event type and
version, the registry that reads them (upcasting older versions) and the typed dispatch consumers use."""

from paht_shared.contracts.base import EventData
from paht_shared.contracts.events import (
    MISSING_FIELD_LABELS,
    MISSING_FIELDS,
    TRIAGE_CATEGORY,
    AgencyAssignmentV1,
    InformationProvidedV1,
    MediaRef,
    MediaRejectedV1,
    MediaStoredV1,
    MediaUploadedV1,
    NotificationPreferencesV1,
    NotificationSentV1,
    ReportDeadlineV1,
    ReportRatedV1,
    ReportReopenedV1,
    ReportRoutedV1,
    ReportStatusChangedV1,
    ReportSubmittedV1,
    missing_question,
)
from paht_shared.contracts.registry import CONTRACTS, Contracts, UnreadableEvent
from paht_shared.contracts.status import STATUS_LABELS, Channel, ReportStatus

__all__ = [
    "CONTRACTS",
    "MISSING_FIELDS",
    "MISSING_FIELD_LABELS",
    "STATUS_LABELS",
    "TRIAGE_CATEGORY",
    "AgencyAssignmentV1",
    "Channel",
    "Contracts",
    "EventData",
    "InformationProvidedV1",
    "MediaRef",
    "MediaRejectedV1",
    "MediaStoredV1",
    "MediaUploadedV1",
    "NotificationPreferencesV1",
    "NotificationSentV1",
    "ReportDeadlineV1",
    "ReportRatedV1",
    "ReportReopenedV1",
    "ReportRoutedV1",
    "ReportStatus",
    "ReportStatusChangedV1",
    "ReportSubmittedV1",
    "UnreadableEvent",
    "missing_question",
]
