"""Every Kafka topic name, spelled once. `<domain>.<fact>.v<N>`; the key of every record is the report id."""

from __future__ import annotations

REPORT_SUBMITTED = "report.submitted.v1"
REPORT_ROUTED = "report.routed.v1"
REPORT_STATUS_CHANGED = "report.status_changed.v1"
# What the citizen does after submitting (rate, reopen, answer a request for information): one topic keyed
# by report, so that a report's actions keep their order.
REPORT_CITIZEN_ACTIONS = "report.citizen_actions.v1"
# Deadlines close to or past (the agency is reminded, the coordinator sees the overdue ones).
REPORT_DEADLINES = "report.deadlines.v1"
NOTIFICATION_SENT = "notification.sent.v1"
MEDIA_UPLOADED = "media.uploaded.v1"
MEDIA_STORED = "media.stored.v1"
MEDIA_REJECTED = "media.rejected.v1"

# Topics every deployment needs. Per-agency queues come from the agencies routing knows (agency_inbox).
PLATFORM_TOPICS: tuple[str, ...] = (
    REPORT_SUBMITTED,
    REPORT_ROUTED,
    REPORT_STATUS_CHANGED,
    REPORT_CITIZEN_ACTIONS,
    REPORT_DEADLINES,
    NOTIFICATION_SENT,
    MEDIA_UPLOADED,
    MEDIA_STORED,
    MEDIA_REJECTED,
)

DLQ_SUFFIX = ".dlq"


def dlq(topic: str) -> str:
    """Where a consumer of `topic` puts what it cannot handle."""
    return topic + DLQ_SUFFIX


def agency_inbox(agency_code: str) -> str:
    """Each agency's own queue, so its system can consume exactly its work (and an ACL can enforce that)."""
    return f"agency.{agency_code.lower()}.inbox.v1"


def with_dead_letters(topics: list[str] | tuple[str, ...]) -> list[str]:
    """The topics and their dead-letter topics, for bootstrapping."""
    return [*topics, *(dlq(t) for t in topics)]
