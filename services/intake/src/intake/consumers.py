"""Events intake listens to: status changes feed the citizen's tracking page."""

from __future__ import annotations

from intake import service
from intake.events import REPORT_STATUS_CHANGED
from paht_shared.consumer import Subscription

SUBSCRIPTIONS = [Subscription("intake.tracking", (REPORT_STATUS_CHANGED,), service.apply_status_change)]
