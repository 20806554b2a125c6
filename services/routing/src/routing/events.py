"""Events routing publishes, built from the contract models (no personal data)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from paht_shared.contracts import (
    AgencyAssignmentV1,
    ReportRoutedV1,
    ReportStatus,
    ReportStatusChangedV1,
    ReportSubmittedV1,
)
from routing.domain import Agency

PRODUCER = "routing"


def report_routed(
    report: ReportSubmittedV1, agency: Agency, due_at: datetime, triage: bool, at: datetime
) -> ReportRoutedV1:
    return ReportRoutedV1(**_assigned(report, agency, due_at, triage), routed_at=at)


def agency_assignment(
    report: ReportSubmittedV1, agency: Agency, due_at: datetime, triage: bool, at: datetime
) -> AgencyAssignmentV1:
    return AgencyAssignmentV1(**_assigned(report, agency, due_at, triage), assigned_at=at)


def status_changed(
    report: ReportSubmittedV1,
    sequence: int,
    status: ReportStatus,
    agency: Agency,
    due_at: datetime,
    triage: bool,
    at: datetime,
) -> ReportStatusChangedV1:
    return ReportStatusChangedV1(
        **_assigned(report, agency, due_at, triage),
        sequence=sequence,
        status=status,
        changed_at=at,
        # Agency contact data (not personal) travels so notify can write to the agency.
        agency_email=agency.email,
    )


def _assigned(report: ReportSubmittedV1, agency: Agency, due_at: datetime, triage: bool) -> dict[str, Any]:
    return {
        "report_id": report.report_id,
        "tracking_code": report.tracking_code,
        "category": report.category,
        "ward_code": report.ward_code,
        "title": report.title,
        "agency_code": agency.code,
        "agency_name": agency.name,
        "due_at": due_at,
        "triage": triage,
    }
