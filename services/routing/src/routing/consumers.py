"""Events routing listens to: every submitted report gets its agency."""

from __future__ import annotations

from paht_shared.consumer import Subscription
from paht_shared.contracts import ReportSubmittedV1, topics
from paht_shared.contracts.dispatch import dispatch
from routing.config import Settings
from routing.service import ReportRouter

ASSIGN = "routing.assign"  # consumer group and inbox name: renaming it would make old events look new


def subscriptions(settings: Settings) -> list[Subscription]:
    return [Subscription(ASSIGN, (topics.REPORT_SUBMITTED,), dispatch({ReportSubmittedV1: ReportRouter(settings)}))]
