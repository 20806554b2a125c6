"""The notification rules that need no database: default channels, the sealed contact, cross-field checks."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from intake.events import contact_context, notification_channels, seal_contact
from intake.handlers import notification_errors
from intake.models import SubmitReport
from paht_shared.sealing import generate_keypair, open_sealed
from paht_shared.testing import pii

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
CONTEXT = {"now": NOW, "clock_skew": timedelta(minutes=10), "max_report_age": timedelta(days=365)}
TOKEN = "apns:0123456789abcdef"  # noqa: S105 - a made-up push address, not a secret


def command(**changes: Any) -> SubmitReport:
    return SubmitReport.model_validate({**pii.sample_report(), **changes}, context=CONTEXT)


def test_defaults_are_the_channels_with_an_address() -> None:
    """Email and SMS for a web report with both; push only with a device token."""
    assert notification_channels(command()).model_dump() == {"email": True, "sms": True, "push": False}
    reporter = {"email": pii.EMAIL}
    chosen = notification_channels(command(channel="app", reporter=reporter, anonymous=True, device_token=TOKEN))
    assert chosen.model_dump() == {"email": True, "sms": False, "push": True}


def test_an_explicit_choice_wins() -> None:
    """notifications given: used as is."""
    choice = {"email": False, "sms": True, "push": False}
    assert notification_channels(command(notifications=choice)).model_dump() == choice


def test_no_key_seals_nothing() -> None:
    """Without notify's public key the contact stays in intake."""
    assert seal_contact(command(), uuid.uuid4(), None) is None


def test_sealed_contact_opens_for_its_report() -> None:
    """The box holds the E.164 phone and the channels, and opens with the report's context."""
    private, public = generate_keypair()
    report_id = uuid.uuid4()
    sealed = seal_contact(command(), report_id, public)
    assert sealed is not None
    assert pii.find_leaks(sealed) == []
    contact = json.loads(open_sealed(private, sealed, contact_context(report_id)))
    assert contact["phone"] == "+84" + pii.PHONE[1:]
    assert contact["channels"] == {"email": True, "sms": True, "push": False}


def test_cross_field_errors() -> None:
    """A token off the app is not allowed (and then is no push address); a channel on needs its address."""
    errors = notification_errors(
        {"channel": "web", "device_token": TOKEN, "reporter": {"phone": pii.PHONE},
         "notifications": {"email": True, "sms": True, "push": True}}
    )  # fmt: skip
    assert [(e["field"], e["code"]) for e in errors] == [
        ("device_token", "field_not_allowed"),
        ("notifications.email", "contact_required"),
        ("notifications.push", "contact_required"),
    ]
    assert TOKEN not in json.dumps(errors)
    assert notification_errors({"channel": "app", "device_token": TOKEN, "notifications": "yes"}) == []
