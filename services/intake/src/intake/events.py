"""Events intake publishes, built from the contract models. No personal data: ids and non-personal fields."""

from __future__ import annotations

import uuid
from datetime import datetime

from intake.models import SubmitReport
from paht_shared.contracts import ReportSubmittedV1
from paht_shared.logging import redact_text

PRODUCER = "intake"


def report_submitted(
    cmd: SubmitReport, report_id: uuid.UUID, tracking_code: str, submitted_at: datetime
) -> ReportSubmittedV1:
    return ReportSubmittedV1(
        report_id=report_id,
        tracking_code=tracking_code,
        channel=cmd.channel,
        category=cmd.category,
        # Free text may hold a phone number or an email someone typed in: events never carry them.
        title=redact_text(cmd.title),
        ward_code=cmd.location.ward_code.zfill(5),
        lat=cmd.location.lat,
        lon=cmd.location.lon,
        occurred_at=cmd.occurred_at,
        submitted_at=submitted_at,
        public=cmd.public,
        anonymous=cmd.anonymous,
        media_ids=tuple(cmd.media_ids),
    )
