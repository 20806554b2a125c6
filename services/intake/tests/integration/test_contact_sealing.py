"""The reporter's contact reaches notify sealed inside report.submitted, and the reporter chooses per channel
which notifications they get (report.notification_preferences), against the real PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from intake_helpers import Client, act, outbox_events, submit, submitted, track

from intake.app import build_app
from intake.config import Settings
from intake.events import contact_context
from paht_shared.contracts import topics
from paht_shared.sealing import SealError, generate_keypair, open_sealed
from paht_shared.testing import pii

DEVICE_TOKEN = "fcm:dGVzdC10b2tlbi0xMjM0NTY3ODkw_-."  # noqa: S105 - a made-up push address, not a secret
NOTIFY_KEYS = generate_keypair()


@pytest.fixture
async def sealing_client(intake_settings: Settings) -> AsyncIterator[Client]:
    """An intake that knows notify's public key."""
    settings = intake_settings.model_copy(update={"notify_public_key": NOTIFY_KEYS[1]})
    async with TestClient(TestServer(build_app(settings))) as test_client:
        yield test_client


def app_report(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {**pii.sample_report(), "channel": "app", **changes}
    return body


async def sealed_contact(settings: Settings, created: dict[str, Any]) -> dict[str, Any]:
    [event] = await outbox_events(settings, topics.REPORT_SUBMITTED)
    assert event.data["contact_sealed"] is not None
    opened = open_sealed(NOTIFY_KEYS[0], event.data["contact_sealed"], contact_context(uuid.UUID(created["id"])))
    contact: dict[str, Any] = json.loads(opened)
    return contact


async def test_the_contact_opens_with_notify_key_and_nothing_personal_is_in_the_event(
    sealing_client: Client, intake_settings: Settings
) -> None:
    """The sealed contact opens with notify's private key to email, E.164 phone, device token and the channels;
    the event's bytes hold none of the reporter's data, and the box opens for this report only."""
    created = await submitted(sealing_client, app_report(device_token=DEVICE_TOKEN))
    contact = await sealed_contact(intake_settings, created)
    assert contact == {
        "email": pii.EMAIL,
        "phone": "+84" + pii.PHONE[1:],
        "push_token": DEVICE_TOKEN,
        "channels": {"email": True, "sms": True, "push": True},
    }
    [event] = await outbox_events(intake_settings, topics.REPORT_SUBMITTED)
    text = event.to_bytes().decode()
    assert pii.find_leaks(text) == []
    assert DEVICE_TOKEN not in text
    with pytest.raises(SealError):
        open_sealed(NOTIFY_KEYS[0], event.data["contact_sealed"], contact_context(uuid.uuid4()))


async def test_anonymous_reporter_is_still_sealed_with_the_contact_given(
    sealing_client: Client, intake_settings: Settings
) -> None:
    """An anonymous reporter who gave only an email gets it sealed, with email the only channel on."""
    body = pii.sample_report()
    body.update(anonymous=True, reporter={"email": pii.EMAIL}, consent={"use_personal_data": False, "publish": True})
    created = await submitted(sealing_client, body)
    contact = await sealed_contact(intake_settings, created)
    assert contact == {
        "email": pii.EMAIL,
        "phone": None,
        "push_token": None,
        "channels": {"email": True, "sms": False, "push": False},
    }


async def test_without_notify_key_no_contact_is_sealed(client: Client, intake_settings: Settings) -> None:
    """No INTAKE_NOTIFY_PUBLIC_KEY: the event carries no contact at all."""
    await submitted(client)
    [event] = await outbox_events(intake_settings, topics.REPORT_SUBMITTED)
    assert event.data["contact_sealed"] is None


async def test_an_explicit_choice_is_sealed_and_shown(sealing_client: Client, intake_settings: Settings) -> None:
    """notifications given: exactly that choice goes to notify and shows on the tracking page."""
    choice = {"email": False, "sms": True, "push": False}
    created = await submitted(sealing_client, app_report(device_token=DEVICE_TOKEN, notifications=choice))
    assert (await sealed_contact(intake_settings, created))["channels"] == choice
    shown = await (await track(sealing_client, created)).json()
    assert shown["notifications"] == choice


async def test_defaults_follow_the_addresses_given(sealing_client: Client) -> None:
    """Without notifications: email and SMS on for a web report with both; push off without a device token."""
    created = await submitted(sealing_client)
    shown = await (await track(sealing_client, created)).json()
    assert shown["notifications"] == {"email": True, "sms": True, "push": False}


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"device_token": DEVICE_TOKEN}, "device_token", "field_not_allowed"),
        ({"channel": "app", "device_token": "short"}, "device_token", "invalid"),
        ({"channel": "app", "device_token": "has spaces in it"}, "device_token", "invalid"),
        ({"channel": "app", "device_token": "x" * 4097}, "device_token", "invalid"),
        ({"channel": "app", "notifications": {"email": True, "sms": True, "push": True}}, "notifications.push",
         "contact_required"),
        ({"notifications": {"email": True, "sms": False, "push": True}}, "notifications.push", "contact_required"),
        ({"notifications": {"email": True, "sms": False}}, "notifications.push", "missing"),
        ({"notifications": {"email": 1, "sms": True, "push": False}}, "notifications.email", "wrong_type"),
        ({"notifications": {"email": True, "sms": True, "push": False, "fax": True}}, "notifications.fax",
         "unknown_field"),
    ],
)  # fmt: skip
async def test_notification_fields_are_checked(
    sealing_client: Client, body: dict[str, Any], field: str, code: str
) -> None:
    """A device token only from the app and only of its alphabet; a channel on only with its address; the
    choice strict; each a 422 on its field, with a Vietnamese message and never the value."""
    resp = await submit(sealing_client, {**pii.sample_report(), **body})
    assert resp.status == 422
    errors = (await resp.json())["errors"]
    assert {"field": field, "code": code} in [{"field": e["field"], "code": e["code"]} for e in errors]
    assert DEVICE_TOKEN not in json.dumps(errors)


async def test_email_channel_without_email_is_refused(sealing_client: Client) -> None:
    """email turned on by a reporter who gave only a phone: contact_required on notifications.email."""
    body = pii.sample_report()
    body["reporter"] = {**body["reporter"], "email": None}  # type: ignore[dict-item]
    body["notifications"] = {"email": True, "sms": True, "push": False}
    resp = await submit(sealing_client, body)
    assert resp.status == 422
    assert [e["field"] for e in (await resp.json())["errors"]] == ["notifications.email"]


async def test_notification_errors_come_with_the_others(sealing_client: Client) -> None:
    """A token on the web form and a title too short are reported in one answer."""
    resp = await submit(sealing_client, {**pii.sample_report(), "title": "abc", "device_token": DEVICE_TOKEN})
    assert resp.status == 422
    assert {e["field"] for e in (await resp.json())["errors"]} == {"title", "device_token"}


async def test_opt_out_publishes_the_choice_and_the_page_shows_it(
    sealing_client: Client, intake_settings: Settings
) -> None:
    """POST …/notifications stores the choice, answers with the tracking page, publishes one
    report.notification_preferences and adds nothing to the timeline."""
    created = await submitted(sealing_client, app_report(device_token=DEVICE_TOKEN))
    before = await (await track(sealing_client, created)).json()
    resp = await act(sealing_client, created, "notifications", {"email": False, "sms": True, "push": False})
    assert resp.status == 200, await resp.text()
    shown = await resp.json()
    assert shown["notifications"] == {"email": False, "sms": True, "push": False}
    assert shown["timeline"] == before["timeline"]
    again = await (await track(sealing_client, created)).json()
    assert again["notifications"] == {"email": False, "sms": True, "push": False}
    [event] = await outbox_events(intake_settings, topics.REPORT_CITIZEN_ACTIONS)
    assert event.event_type == "report.notification_preferences"
    assert event.data["report_id"] == created["id"]
    assert event.data["tracking_code"] == created["tracking_code"]
    assert (event.data["email"], event.data["sms"], event.data["push"]) == (False, True, False)
    assert pii.find_leaks(event.to_bytes().decode()) == []
    resp = await act(sealing_client, created, "notifications", {"email": True, "sms": True, "push": True})
    assert (await resp.json())["notifications"] == {"email": True, "sms": True, "push": True}


async def test_opt_in_to_a_channel_without_address_is_refused(
    sealing_client: Client, intake_settings: Settings
) -> None:
    """Push cannot be turned on for a web report (no device token): 422 on push, nothing stored or published."""
    created = await submitted(sealing_client)
    resp = await act(sealing_client, created, "notifications", {"email": True, "sms": True, "push": True})
    assert resp.status == 422
    assert [(e["field"], e["code"]) for e in (await resp.json())["errors"]] == [("push", "contact_required")]
    assert await outbox_events(intake_settings, topics.REPORT_CITIZEN_ACTIONS) == []
    shown = await (await track(sealing_client, created)).json()
    assert shown["notifications"] == {"email": True, "sms": True, "push": False}


async def test_opt_out_with_wrong_secret_is_404(sealing_client: Client, intake_settings: Settings) -> None:
    """A wrong secret gets the same 404 as an unknown code, and nothing is published."""
    created = await submitted(sealing_client)
    resp = await act(
        sealing_client, {**created, "tracking_secret": "wrong-" + created["tracking_secret"]}, "notifications",
        {"email": False, "sms": False, "push": False},
    )  # fmt: skip
    assert resp.status == 404
    assert (await resp.json())["errors"][0]["code"] == "report_not_found"
    assert await outbox_events(intake_settings, topics.REPORT_CITIZEN_ACTIONS) == []


@pytest.mark.parametrize(
    "body", [{"email": False}, {"email": False, "sms": False, "push": False, "x": 1}, {"email": "no", "sms": 0}]
)
async def test_opt_out_body_is_strict(sealing_client: Client, body: dict[str, Any]) -> None:
    """All three channels, booleans only, nothing else: otherwise 422."""
    created = await submitted(sealing_client)
    resp = await act(sealing_client, created, "notifications", body)
    assert resp.status == 422
