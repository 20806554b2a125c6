"""A citizen's reply to our automatic email: its subject names the report ("Re: [PAHT] Đã tiếp nhận phản ánh —
PA-7KQ2M9XA"), and what they wrote completes that report instead of starting another (EMAIL.md).

Only the tracking code is read from the message here; whether the report is the sender's, and waits for
information, is tracking.provide_information_by_reporter's to decide.
"""

from __future__ import annotations

import re

from intake import domain
from intake.mail.structured import StructuredLines
from intake.validation import TenantArea
from paht_shared import reference

# The alphabet of domain.new_tracking_code (no 0/O/1/I/L); people retype codes in lower case.
TRACKING_CODE = re.compile(r"\bPA-([23456789ABCDEFGHJKMNPQRSTUVWXYZ]{8})\b", re.IGNORECASE)
REPLY_MAX = 5000  # what an information reply may hold


def tracking_code_in(subject: str) -> str | None:
    """The first tracking code in the subject, in its stored spelling, or None."""
    match = TRACKING_CODE.search(subject)
    return f"PA-{match.group(1).upper()}" if match else None


def reply_text(body: str, lines: StructuredLines, tenant: TenantArea, attachments: int) -> str:
    """The citizen's words, then what their key lines say in the names the coordinator works with (routing's
    coordinator, not intake, sets the category and the place), then a note of the attachments left out."""
    found: list[str] = []
    if lines.ward_name is not None:
        code = domain.resolve_ward_name(lines.ward_name, tenant.ward_names)
        found.append(f"Phường/Xã: {tenant.wards.get(code, lines.ward_name) if code else lines.ward_name}")
    if lines.address_text is not None:
        found.append(f"Địa chỉ: {lines.address_text}")
    if lines.category is not None:
        category = reference.category(lines.category)
        found.append(f"Lĩnh vực: {category.name if category else lines.category}")
    extra = "\n".join(["Thông tin đọc được từ thư trả lời:", *found]) if found else ""
    if attachments:
        # Media attaches a file only to a new report that shows its upload token; nothing claims the files of
        # an information reply, so they are not uploaded, and the coordinator is told they existed.
        note = f"Thư trả lời có {attachments} tệp đính kèm chưa được nhận; có thể cần hỏi lại người phản ánh."
        extra = f"{extra}\n{note}".strip()
    room = REPLY_MAX - len(extra) - 2
    text = body if len(body) <= room else body[: room - 1] + "…"
    return f"{text}\n\n{extra}".strip() if extra else text
