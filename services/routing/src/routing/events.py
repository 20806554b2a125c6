"""Events routing consumes and publishes (no personal data)."""

from __future__ import annotations

REPORT_SUBMITTED = "report.submitted.v1"
REPORT_ROUTED = "report.routed.v1"
REPORT_STATUS_CHANGED = "report.status_changed.v1"
PRODUCER = "routing"


def agency_inbox_topic(agency_code: str) -> str:
    """Each agency's own queue, so its system can consume exactly its work (and an ACL can enforce that)."""
    return f"agency.{agency_code.lower()}.inbox.v1"
