"""Events notify listens to: status changes become deliveries; the sender beside them sends those."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from email.utils import parseaddr

import aiohttp
import asyncpg

from notify.channels import Channel, EmailChannel, PushChannel, RateLimited, SmsChannel
from notify.citizens import Notifier
from notify.config import Settings
from notify.digests import DigestWorker
from notify.mailer import Mailer, SmtpPool
from notify.sender import DeliverySender
from paht_shared.consumer import Subscription
from paht_shared.contracts import (
    NotificationPreferencesV1,
    ReportDeadlineV1,
    ReportStatusChangedV1,
    ReportSubmittedV1,
    topics,
)
from paht_shared.contracts.dispatch import dispatch
from paht_shared.runtime import Stoppable

# Consumer groups and inbox names: renaming one would make its old events look new. (Status changes keep
# the name they had when only agencies were emailed.)
AGENCY_EMAIL = "notify.agency_email"
RECEIVED = "notify.received"
DEADLINES = "notify.deadlines"
PREFERENCES = "notify.preferences"


def subscriptions(settings: Settings) -> list[Subscription]:
    notifier = Notifier(settings)
    return [
        Subscription(
            AGENCY_EMAIL, (topics.REPORT_STATUS_CHANGED,), dispatch({ReportStatusChangedV1: notifier.status_changed})
        ),
        Subscription(RECEIVED, (topics.REPORT_SUBMITTED,), dispatch({ReportSubmittedV1: notifier.submitted})),
        Subscription(DEADLINES, (topics.REPORT_DEADLINES,), dispatch({ReportDeadlineV1: notifier.deadline})),
        Subscription(
            PREFERENCES, (topics.REPORT_CITIZEN_ACTIONS,), dispatch({NotificationPreferencesV1: notifier.preferences})
        ),
    ]


def senders(settings: Settings, mailer: Mailer | None = None) -> Callable[[asyncpg.Pool], list[Stoppable]]:
    """The workers that run beside the consumers on their pool: the sender, with one channel of each kind."""
    mailer = mailer or SmtpPool(
        settings.smtp_host, settings.smtp_port, settings.smtp_timeout_seconds, settings.smtp_pool_size
    )

    def make(pool: asyncpg.Pool) -> list[Stoppable]:
        return [DeliverySender(pool, LazyChannels(settings, mailer), settings), DigestWorker(pool, settings)]

    return make


class LazyChannels(Mapping[str, Channel]):
    """The channels, built on first use inside the running event loop (an HTTP session and a rate limiter
    belong to the loop that made them)."""

    def __init__(self, settings: Settings, mailer: Mailer) -> None:
        self._settings = settings
        self._mailer = mailer
        self._built: dict[str, Channel] | None = None

    def _channels(self) -> dict[str, Channel]:
        if self._built is None:
            s = self._settings
            session = aiohttp.ClientSession()
            sms = SmsChannel(session, s.sms_url, s.sms_api_key, s.sms_sender_id, s.channel_timeout_seconds)
            push = PushChannel(session, s.push_url, s.push_secret, s.channel_timeout_seconds)
            self._built = {
                "email": EmailChannel(self._mailer, parseaddr(s.mail_from)[1]),
                "sms": RateLimited(sms, s.sms_rate_per_second),
                "push": RateLimited(push, s.push_rate_per_second),
            }
        return self._built

    def __getitem__(self, name: str) -> Channel:
        return self._channels()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._channels())

    def __len__(self) -> int:
        return len(self._channels())
