"""Events notify listens to: status changes become messages."""

from __future__ import annotations

from notify.config import Settings
from notify.mailer import SmtpMailer
from notify.service import StatusNotifier
from paht_shared.consumer import Subscription

REPORT_STATUS_CHANGED = "report.status_changed.v1"


def subscriptions(settings: Settings) -> list[Subscription]:
    mailer = SmtpMailer(settings.smtp_host, settings.smtp_port, settings.smtp_timeout_seconds)
    return [Subscription("notify.agency_email", (REPORT_STATUS_CHANGED,), StatusNotifier(settings, mailer))]
