"""Events intake publishes, built from the contract models. No personal data: ids, codes and masked text."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from intake.models import Attachment, NotificationChoice, SubmitReport
from intake.validation import CheckedReport
from paht_shared.contracts import MediaRef, ReportSubmittedV1
from paht_shared.sealing import seal

PRODUCER = "intake"


def report_submitted(
    cmd: SubmitReport,
    checked: CheckedReport,
    report_id: uuid.UUID,
    tracking_code: str,
    submitted_at: datetime,
    received_at: datetime,
    masked_texts: tuple[str | None, str | None, str | None],
    contact_sealed: str | None = None,
) -> ReportSubmittedV1:
    """`masked_texts`: title, content and address with personal data masked (the event never carries any);
    `contact_sealed`: the reporter's contact, readable by notify alone (seal_contact)."""
    title, content, address_text = masked_texts
    assert title is not None  # noqa: S101 - checked before we get here
    return ReportSubmittedV1(
        report_id=report_id,
        tracking_code=tracking_code,
        channel=cmd.channel,
        category=checked.category,
        title=title,
        content=content,
        address_text=address_text,
        ward_code=checked.ward_code,
        area_code=checked.area_code,
        lat=cmd.location.lat,
        lon=cmd.location.lon,
        occurred_at=cmd.occurred_at,
        submitted_at=submitted_at,
        received_at=received_at,
        public=cmd.public,
        anonymous=cmd.anonymous,
        identity_shared=cmd.consent.use_personal_data and not cmd.anonymous,
        media_ids=tuple(cmd.media_ids),
        media=media_refs(cmd.media),
        contact_sealed=contact_sealed,
        missing=checked.missing,
        emergency=checked.emergency,
        operator_id=checked.operator_id,
    )


def media_refs(attachments: list[Attachment]) -> tuple[MediaRef, ...]:
    """The attached files as events carry them: ids with their upload token's hash, never the token."""
    return tuple(MediaRef.proof(a.id, a.upload_token) for a in attachments)


def notification_channels(cmd: SubmitReport) -> NotificationChoice:
    """The reporter's choice, or by default every channel they gave an address for."""
    if cmd.notifications is not None:
        return cmd.notifications
    return NotificationChoice(
        email=cmd.reporter.email is not None, sms=cmd.reporter.phone is not None, push=cmd.device_token is not None
    )


def contact_context(report_id: uuid.UUID) -> bytes:
    """What a sealed contact is bound to: it opens only as the contact of this report."""
    return b"paht-contact:" + str(report_id).encode()


def seal_contact(
    cmd: SubmitReport, report_id: uuid.UUID, notify_public_key: str | None, tracking_secret: str | None = None
) -> str | None:
    """How notify reaches the reporter, sealed with notify's public key; None without a key (no notifications).
    `tracking_secret`: for a reporter who got no receipt (an emailed report), told in notify's first reply.

    Anonymous reporters are sealed too: anonymity hides them from agencies and the public, not from the
    messages about their own report."""
    if notify_public_key is None:
        return None
    contact = {
        "email": cmd.reporter.email,
        "phone": cmd.reporter.phone,  # E.164, as the model normalised it
        "push_token": cmd.device_token,
        "channels": notification_channels(cmd).model_dump(),
    }
    if tracking_secret is not None:
        contact["tracking_secret"] = tracking_secret
    return seal(notify_public_key, json.dumps(contact).encode(), contact_context(report_id))
