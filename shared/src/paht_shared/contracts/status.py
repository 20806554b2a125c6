"""The report lifecycle: one status enum for every service, with the label citizens read."""

from __future__ import annotations

from enum import StrEnum


class ReportStatus(StrEnum):
    SUBMITTED = "submitted"
    RECEIVED = "received"
    NEEDS_INFO = "needs_info"
    ASSIGNED = "assigned"
    RETURNED = "returned"
    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"
    RATED = "rated"
    REOPENED = "reopened"
    CLOSED = "closed"
    REJECTED = "rejected"

    @property
    def label(self) -> str:
        """Vietnamese, as the tracking page and messages show it."""
        return STATUS_LABELS[self]


STATUS_LABELS: dict[ReportStatus, str] = {
    ReportStatus.SUBMITTED: "Đã gửi",
    ReportStatus.RECEIVED: "Đã tiếp nhận",
    ReportStatus.NEEDS_INFO: "Yêu cầu bổ sung",
    ReportStatus.ASSIGNED: "Đã chuyển xử lý",
    ReportStatus.RETURNED: "Trả lại",
    ReportStatus.IN_PROGRESS: "Đang xử lý",
    ReportStatus.ANSWERED: "Đã trả lời",
    ReportStatus.RATED: "Đã đánh giá",
    ReportStatus.REOPENED: "Mở lại",
    ReportStatus.CLOSED: "Đã đóng",
    ReportStatus.REJECTED: "Từ chối",
}


class Channel(StrEnum):
    """Where a report came in; every channel ends in the same report record and event stream."""

    WEB = "web"
    APP = "app"
    HOTLINE = "hotline"
    EMAIL = "email"
    OPEN311 = "open311"
