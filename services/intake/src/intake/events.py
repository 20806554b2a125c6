"""Events intake publishes, built from the contract models. No personal data: ids, codes and masked text."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

from intake.models import SubmitReport
from intake.validation import CheckedReport
from paht_shared.contracts import MediaRef, ReportSubmittedV1

PRODUCER = "intake"


def report_submitted(
    cmd: SubmitReport,
    checked: CheckedReport,
    report_id: uuid.UUID,
    tracking_code: str,
    submitted_at: datetime,
    received_at: datetime,
    masked_texts: tuple[str | None, str | None, str | None],
) -> ReportSubmittedV1:
    """`masked_texts`: title, content and address with personal data masked (the event never carries any)."""
    title, content, address_text = masked_texts
    assert cmd.category is not None  # noqa: S101 - checked before we get here
    assert title is not None  # noqa: S101 - checked before we get here
    return ReportSubmittedV1(
        report_id=report_id,
        tracking_code=tracking_code,
        channel=cmd.channel,
        category=cmd.category,
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
        media=tuple(
            MediaRef(media_id=a.id, token_sha256=hashlib.sha256(a.upload_token.encode()).hexdigest()) for a in cmd.media
        ),
    )
