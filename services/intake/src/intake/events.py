"""Events intake publishes and consumes. No personal data: ids and non-personal fields only."""

from __future__ import annotations

REPORT_SUBMITTED = "report.submitted.v1"
REPORT_STATUS_CHANGED = "report.status_changed.v1"
PRODUCER = "intake"
