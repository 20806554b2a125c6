"""Events intake listens to: status changes feed the citizen's tracking page and the public view."""

from __future__ import annotations

import asyncpg

from intake import service
from intake.service import PersonalDataVault
from paht_shared.consumer import Subscription
from paht_shared.contracts import ReportStatusChangedV1, topics
from paht_shared.contracts.dispatch import Dispatch, Event, dispatch

# The consumer group and inbox name: renaming it would make every old event look new.
TRACKING = "intake.tracking"


def tracking_handlers(vault: PersonalDataVault) -> Dispatch:
    async def status_changed(event: Event[ReportStatusChangedV1], conn: asyncpg.Connection) -> None:
        await service.apply_status_change(event, conn, vault)

    return dispatch({ReportStatusChangedV1: status_changed})


def subscriptions(vault: PersonalDataVault) -> list[Subscription]:
    return [Subscription(TRACKING, (topics.REPORT_STATUS_CHANGED,), tracking_handlers(vault))]
