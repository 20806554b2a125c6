"""Events routing listens to: every submitted report gets its agency; the citizen's actions move it on."""

from __future__ import annotations

from paht_shared.consumer import Subscription
from paht_shared.contracts import (
    InformationProvidedV1,
    ReportRatedV1,
    ReportReopenedV1,
    ReportSubmittedV1,
    topics,
)
from paht_shared.contracts.dispatch import dispatch
from routing.config import Settings
from routing.service import CitizenActions, ReportRouter, workflow_of

# Consumer group and inbox names: renaming one would make its old events look new.
ASSIGN = "routing.assign"
CITIZEN = "routing.citizen"


def subscriptions(settings: Settings) -> list[Subscription]:
    workflow = workflow_of(settings)
    citizen = CitizenActions(workflow)
    return [
        Subscription(ASSIGN, (topics.REPORT_SUBMITTED,), dispatch({ReportSubmittedV1: ReportRouter(workflow)})),
        Subscription(
            CITIZEN,
            (topics.REPORT_CITIZEN_ACTIONS,),
            dispatch(
                {
                    InformationProvidedV1: citizen.information_provided,
                    ReportReopenedV1: citizen.reopened,
                    ReportRatedV1: citizen.rated,
                }
            ),
        ),
    ]
