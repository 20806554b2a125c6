from __future__ import annotations

from paht_shared.consumer import Subscription
from routing.config import Settings
from routing.events import REPORT_SUBMITTED
from routing.service import ReportRouter


def subscriptions(settings: Settings) -> list[Subscription]:
    return [Subscription("routing.assign", (REPORT_SUBMITTED,), ReportRouter(settings))]
