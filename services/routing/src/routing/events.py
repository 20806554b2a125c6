"""Events routing publishes, built from the contract models (no personal data: intake masked the texts)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from paht_shared.contracts import (
    AgencyAssignmentV1,
    MediaRef,
    ReportDeadlineV1,
    ReportRoutedV1,
    ReportStatus,
    ReportStatusChangedV1,
)
from routing.domain import Agency, Assignment

PRODUCER = "routing"


def report_routed(a: Assignment, agency: Agency, at: datetime) -> ReportRoutedV1:
    return ReportRoutedV1(**_assigned(a, agency), routed_at=at)


def agency_assignment(a: Assignment, agency: Agency, at: datetime) -> AgencyAssignmentV1:
    return AgencyAssignmentV1(**_assigned(a, agency), assigned_at=at)


def status_changed(
    a: Assignment,
    agency: Agency,
    sequence: int,
    status: ReportStatus,
    at: datetime,
    note: str | None = None,
    message: str | None = None,
    media_ids: Sequence[UUID] = (),
    reason_code: str | None = None,
    media: Sequence[MediaRef] = (),
) -> ReportStatusChangedV1:
    return ReportStatusChangedV1(
        **_assigned(a, agency),
        sequence=sequence,
        status=status,
        changed_at=at,
        # Agency contact data (not personal) travels so notify can write to the agency.
        agency_email=agency.email,
        note=note,
        message=message,
        media_ids=tuple(media_ids),
        reason_code=reason_code,
        emergency=a.emergency,
        media=tuple(media),
    )


def deadline(
    a: Assignment, agency: Agency, kind: Literal["due_soon", "overdue"], escalated_to: str | None, at: datetime
) -> ReportDeadlineV1:
    return ReportDeadlineV1(
        report_id=a.report_id,
        tracking_code=a.tracking_code or "",
        category=a.category,
        kind=kind,
        agency_code=agency.code,
        agency_name=agency.name,
        agency_email=agency.email,
        due_at=a.due_at,
        escalated_to=escalated_to,
        at=at,
    )


def _assigned(a: Assignment, agency: Agency) -> dict[str, Any]:
    return {
        "report_id": a.report_id,
        "tracking_code": a.tracking_code or "",
        "category": a.category,
        "ward_code": a.ward_code,
        "title": a.title or "",
        "agency_code": agency.code,
        "agency_name": agency.name,
        "due_at": a.due_at,
        "triage": a.triage,
    }
