"""Who hears what: the events notify consumes become deliveries, recorded in the consumer's inbox transaction.

Agencies hear of new assignments, deadlines a working day away and overdue reports (email). Citizens hear
that their report was received, assigned, needs more information, was answered, rejected or reopened, on
each channel they chose (email, SMS, app push), through the contact intake sealed for notify alone. The
sender (sender.py) takes the deliveries from here: nothing is sent inside the consumer's transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

import asyncpg
import structlog

from notify import repository
from notify.config import Settings
from notify.domain import PendingDelivery
from notify.notices import Contact, Links, Notice, citizen_kind, for_agency, for_citizen
from notify.sms import fit_sms
from paht_shared import reference
from paht_shared.contracts import (
    MISSING_FIELD_LABELS,
    MISSING_FIELDS,
    NotificationPreferencesV1,
    ReportDeadlineV1,
    ReportStatus,
    ReportStatusChangedV1,
    ReportSubmittedV1,
)
from paht_shared.contracts.dispatch import Event
from paht_shared.sealing import SealError, open_sealed, public_key_of, seal

log = structlog.get_logger("notify.citizens")

SMS_SEGMENTS = 3  # a longer text is cut (the SMS carries the link; the whole answer goes by email)


def contact_context(report_id: uuid.UUID) -> bytes:
    return b"paht-contact:" + str(report_id).encode()


def recipient_context(delivery_id: uuid.UUID) -> bytes:
    return b"paht-delivery:" + str(delivery_id).encode()


def body_context(delivery_id: uuid.UUID) -> bytes:
    return b"paht-delivery-body:" + str(delivery_id).encode()


# A citizen's message is stored sealed like their address (it may carry what only they may read: the tracking
# secret of an emailed report); the prefix tells such a body from an agency's, stored as sent.
SEALED_BODY = b"sealed:"


def masked_address(channel: str, address: str) -> str:
    """What the delivery log shows of a citizen's address: enough to tell two apart, not enough to use."""
    if channel == "email":
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    if channel == "sms":
        return f"{address[:4]}*****{address[-3:]}"
    return f"{address[:4]}…"


class Notifier:
    """The handlers of every event notify consumes; each records deliveries in the caller's transaction."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._links = Links(settings.portal_url)
        self._private_key = settings.contact_private_key
        self._public_key = public_key_of(settings.contact_private_key) if settings.contact_private_key else None

    # --- events ------------------------------------------------------------------------------------------

    async def submitted(self, event: Event[ReportSubmittedV1], conn: asyncpg.Connection) -> None:
        """Keep the reporter's sealed contact (as sealed: at rest too only notify's key opens it) and tell
        them their report was received, with its tracking code."""
        report = event.data
        if report.contact_sealed is None or self._private_key is None:
            return
        contact = self._open(report.report_id, report.contact_sealed)
        if contact is None:
            return
        channels = contact.get("channels") or {}
        await repository.save_contact(conn, report.report_id, report.tracking_code, report.contact_sealed, channels)
        facts = {
            "tracking_code": report.tracking_code,
            "title": report.title,
            "category_name": None if "category" in report.missing else _category_name(report.category),
            "received_at": report.received_at or report.submitted_at,
            "missing": [MISSING_FIELD_LABELS.get(field, field) for field in report.missing],
            "emailed_secret": contact.get("tracking_secret"),
        }
        await self._tell_citizen(conn, event, report.report_id, "citizen.received", facts)

    async def status_changed(self, event: Event[ReportStatusChangedV1], conn: asyncpg.Connection) -> None:
        change = event.data
        if change.status == ReportStatus.ASSIGNED and change.agency_email:
            facts = {
                "agency_name": change.agency_name,
                "tracking_code": change.tracking_code,
                "title": change.title,
                "category": _category_name(change.category),
                "ward_code": change.ward_code,
                "due_at": change.due_at,
                "triage": change.triage,
                "report_id": change.report_id,
                "emergency": change.emergency,
            }
            # An emergency is never held for a digest: the agency is told now, whatever it chose.
            if change.emergency or not await self._held_for_digest(
                conn, event, "agency.assigned", change.agency_code, change.agency_email, facts
            ):
                notices = for_agency("agency.assigned", facts, change.agency_email, self._links)
                # the first agency email keeps the Message-ID it always had: <event id@paht.notify>
                message_id = f"<{event.event_id}@paht.notify>"
                await self._record(conn, event, change.report_id, notices, message_id=message_id)
        kind = citizen_kind(change.status)
        # MISSING_FIELDS: the reception notice already asked for what is missing; one reply, not two.
        if kind is not None and change.reason_code != MISSING_FIELDS:
            facts = {
                "tracking_code": change.tracking_code,
                "title": change.title,
                "agency_name": change.agency_name,
                "due_at": change.due_at,
                "message": change.message,
            }
            await self._tell_citizen(conn, event, change.report_id, kind, facts)

    async def deadline(self, event: Event[ReportDeadlineV1], conn: asyncpg.Connection) -> None:
        notice = event.data
        facts = {
            "agency_name": notice.agency_name,
            "tracking_code": notice.tracking_code,
            "title": "",
            "category": _category_name(notice.category),
            "ward_code": None,
            "due_at": notice.due_at,
            "triage": False,
            "report_id": notice.report_id,
        }
        kind = f"agency.{notice.kind}"
        # overdue goes at once whatever the agency chose; a deadline a day away may wait for its digest
        if notice.kind == "due_soon" and await self._held_for_digest(
            conn, event, kind, notice.agency_code, notice.agency_email, facts
        ):
            return
        notices = for_agency(kind, facts, notice.agency_email, self._links)
        await self._record(conn, event, notice.report_id, notices)

    async def preferences(self, event: Event[NotificationPreferencesV1], conn: asyncpg.Connection) -> None:
        choice = event.data
        if not await repository.set_channels(conn, choice.report_id, choice.email, choice.sms, choice.push):
            log.info("preferences_for_unknown_contact", report_id=str(choice.report_id))

    # --- helpers -----------------------------------------------------------------------------------------

    async def _held_for_digest(
        self,
        conn: asyncpg.Connection,
        event: Event[Any],
        kind: str,
        agency_code: str | None,
        agency_email: str | None,
        facts: Mapping[str, Any],
    ) -> bool:
        """True if the agency takes digests: the item waits for the next one instead of its own email."""
        if not agency_code or not agency_email or await repository.agency_mode(conn, agency_code) == "immediate":
            return False
        await repository.hold_for_digest(
            conn,
            {
                "agency_code": agency_code,
                "agency_name": facts.get("agency_name") or agency_code,
                "agency_email": agency_email,
                "kind": kind,
                "event_id": event.event_id,
                "report_id": facts["report_id"],
                "tracking_code": facts["tracking_code"],
                "title": facts.get("title") or "",
                "due_at": facts.get("due_at"),
            },
        )
        return True

    def _open(self, report_id: uuid.UUID, sealed: str) -> dict[str, Any] | None:
        assert self._private_key is not None  # noqa: S101 - checked by the callers
        try:
            opened: dict[str, Any] = json.loads(open_sealed(self._private_key, sealed, contact_context(report_id)))
        except (SealError, ValueError):
            # sealed for another key (a rotated one, another tenant): the citizen cannot be told; say so, once
            log.warning("contact_unreadable", report_id=str(report_id))
            return None
        return opened

    async def _tell_citizen(
        self, conn: asyncpg.Connection, event: Event[Any], report_id: uuid.UUID, kind: str, facts: Mapping[str, Any]
    ) -> None:
        if self._private_key is None:
            return
        row = await repository.contact_of(conn, report_id)
        if row is None:
            return
        opened = self._open(report_id, row["sealed"])
        if opened is None:
            return
        contact = Contact(
            email=opened.get("email"),
            phone=opened.get("phone"),
            push_token=opened.get("push_token"),
            email_on=row["email_on"],
            sms_on=row["sms_on"],
            push_on=row["push_on"],
        )
        notices = for_citizen(kind, facts, contact, self._links, lambda text: fit_sms(text, SMS_SEGMENTS))
        await self._record(conn, event, report_id, notices)

    async def record_digest(
        self, conn: asyncpg.Connection, event_id: uuid.UUID, report_id: uuid.UUID, notice: Notice, key: str
    ) -> bool:
        """A digest's delivery (its own event id per agency and period: recorded once)."""
        delivery = PendingDelivery(
            id=uuid.uuid4(),
            event_id=event_id,
            correlation_id=key,
            report_id=report_id,
            channel="email",
            audience="agency",
            agency_code=None,
            recipient=notice.recipient,
            subject=notice.subject or notice.kind,
            message_id=f"<{event_id}.digest@paht.notify>",
            message=self._body(notice, f"<{event_id}.digest@paht.notify>", report_id, to=notice.recipient),
            kind=notice.kind,
        )
        return await repository.record_delivery(conn, delivery)

    async def _record(
        self,
        conn: asyncpg.Connection,
        event: Event[Any],
        report_id: uuid.UUID,
        notices: list[Notice],
        message_id: str | None = None,
    ) -> None:
        for notice in notices:
            delivery = self._delivery(event, report_id, notice, message_id)
            if await repository.record_delivery(conn, delivery):
                log.info("delivery_queued", report_id=str(report_id), kind=notice.kind, channel=notice.channel)

    def _delivery(
        self, event: Event[Any], report_id: uuid.UUID, notice: Notice, message_id: str | None
    ) -> PendingDelivery:
        delivery_id = uuid.uuid4()
        message_id = message_id or f"<{event.event_id}.{notice.kind}.{notice.channel}@paht.notify>"
        citizen = notice.audience == "citizen"
        body = self._body(notice, message_id, report_id, to=None if citizen else notice.recipient)
        if citizen:
            assert self._public_key is not None  # noqa: S101 - citizens are told only with the key configured
            recipient = masked_address(notice.channel, notice.recipient)
            sealed = seal(self._public_key, notice.recipient.encode(), recipient_context(delivery_id))
            body = SEALED_BODY + seal(self._public_key, body, body_context(delivery_id)).encode()
        else:
            recipient, sealed = notice.recipient, None
        return PendingDelivery(
            id=delivery_id,
            event_id=event.event_id,
            correlation_id=event.envelope.correlation_id,
            report_id=report_id,
            channel=notice.channel,
            audience=notice.audience,
            agency_code=notice.agency_code,
            recipient=recipient,
            subject=notice.subject or notice.kind,
            message_id=message_id,
            message=body,
            recipient_sealed=sealed,
            kind=notice.kind,
        )

    def _body(self, notice: Notice, message_id: str, report_id: uuid.UUID, to: str | None) -> bytes:
        if notice.channel == "email":
            message = EmailMessage()
            message["From"] = self._settings.mail_from
            if to is not None:
                message["To"] = to  # a citizen's To: is added by the sender at send time, never stored
            elif self._settings.reply_to:
                message["Reply-To"] = self._settings.reply_to  # a citizen's answer reaches intake's listener
            message["Subject"] = notice.subject or ""
            message["Message-ID"] = message_id
            message["X-PAHT-Report-Id"] = str(report_id)
            # RFC 3834: an automatic message. Autoresponders must not answer it, and our own inbound mail
            # ignores whatever comes back marked so: no loop between two robots.
            message["Auto-Submitted"] = "auto-generated"
            message.set_content(notice.text)
            return message.as_bytes(policy=SMTP)
        if notice.channel == "push":
            payload = {"title": notice.subject or "PAHT", "body": notice.text, "data": {"report_id": str(report_id)}}
            return json.dumps(payload, ensure_ascii=False).encode()
        return notice.text.encode()


def _category_name(code: str) -> str:
    category = reference.category(code)
    return category.name if category else code
