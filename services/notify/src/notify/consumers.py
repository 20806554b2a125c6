"""Events notify listens to: status changes become deliveries; the sender beside them sends those."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from notify.config import Settings
from notify.mailer import Mailer, SmtpMailer
from notify.sender import DeliverySender
from notify.service import StatusNotifier
from paht_shared.consumer import Subscription
from paht_shared.contracts import ReportStatusChangedV1, topics
from paht_shared.contracts.dispatch import dispatch
from paht_shared.runtime import Stoppable

AGENCY_EMAIL = "notify.agency_email"  # consumer group and inbox name: renaming it would make old events look new


def subscriptions(settings: Settings) -> list[Subscription]:
    handlers = dispatch({ReportStatusChangedV1: StatusNotifier(settings)})
    return [Subscription(AGENCY_EMAIL, (topics.REPORT_STATUS_CHANGED,), handlers)]


def senders(settings: Settings, mailer: Mailer | None = None) -> Callable[[asyncpg.Pool], list[Stoppable]]:
    """The workers that run beside the consumers on their pool: one sender for every channel there is."""
    mailer = mailer or SmtpMailer(settings.smtp_host, settings.smtp_port, settings.smtp_timeout_seconds)

    def make(pool: asyncpg.Pool) -> list[Stoppable]:
        return [DeliverySender(pool, mailer, settings)]

    return make
