"""Events notify listens to: status changes become messages."""

from __future__ import annotations

from notify.config import Settings
from notify.mailer import Mailer, SmtpMailer
from notify.service import StatusNotifier
from paht_shared.consumer import Subscription
from paht_shared.contracts import ReportStatusChangedV1, topics
from paht_shared.contracts.dispatch import dispatch

AGENCY_EMAIL = "notify.agency_email"  # consumer group and inbox name: renaming it would make old events look new


def subscriptions(settings: Settings, mailer: Mailer | None = None) -> list[Subscription]:
    mailer = mailer or SmtpMailer(settings.smtp_host, settings.smtp_port, settings.smtp_timeout_seconds)
    handlers = dispatch({ReportStatusChangedV1: StatusNotifier(settings, mailer)})
    return [Subscription(AGENCY_EMAIL, (topics.REPORT_STATUS_CHANGED,), handlers)]
