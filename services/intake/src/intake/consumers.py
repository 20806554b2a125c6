"""Events intake listens to: status changes feed the citizen's tracking page."""

from __future__ import annotations

from intake import service
from paht_shared.consumer import Subscription
from paht_shared.contracts import ReportStatusChangedV1, topics
from paht_shared.contracts.dispatch import dispatch

# The consumer group and inbox name: renaming it would make every old event look new.
TRACKING = "intake.tracking"
TRACKING_HANDLERS = dispatch({ReportStatusChangedV1: service.apply_status_change})

SUBSCRIPTIONS = [Subscription(TRACKING, (topics.REPORT_STATUS_CHANGED,), TRACKING_HANDLERS)]
