"""A read mail -> the submission in intake's own field names, and validation errors -> a cause for the sender."""

from __future__ import annotations

from typing import Any

from intake.mail.reading import InboundMail
from intake.mail.structured import StructuredLines
from intake.messages import FieldError
from paht_shared.contracts import Channel

CONTENT_MAX = 5000


def submission(
    mail: InboundMail, lines: StructuredLines, media: list[dict[str, str]], with_name: bool = True
) -> dict[str, Any]:
    """The raw body check_submission reads. The sender's address is the contact; a display name that is a
    person's name is the reporter's name (`with_name=False` leaves it out). Private, no consent to share the
    identity: an email cannot tick those boxes, and the reply says how to change them."""
    reporter: dict[str, Any] = {"email": mail.sender}
    if with_name and mail.display_name:
        reporter["full_name"] = mail.display_name
    if lines.phone:
        reporter["phone"] = lines.phone
    location = {"ward_name": lines.ward_name, "address_text": lines.address_text}
    content = mail.content if len(mail.content) <= CONTENT_MAX else mail.content[: CONTENT_MAX - 1] + "…"
    return {
        "channel": Channel.EMAIL.value,
        "reporter": reporter,
        "title": mail.title,
        "content": content,
        "category": lines.category,
        "location": {k: v for k, v in location.items() if v},
        "media": media,
    }


# (field, code) -> what the sender is told; "*" any code of the field.
_CAUSES = {
    ("title", "*"): "the subject must say in 5 to 200 characters what the problem is",
    ("content", "too_short"): "the text is too short: describe the problem in at least 20 characters",
    ("content", "missing"): "the message has no text: describe the problem in at least 20 characters",
    ("content", "*"): "the text of the message cannot be read as a report",
    ("reporter.email", "*"): "the sender address is not a valid email address",
    ("reporter.phone", "contact_required"): "the sender address is not a valid email address",
    ("location", "outside_area"): "the place given is outside the province",
    ("location.ward_name", "unknown_ward"): "the ward or commune given is not one of the province",
    ("media", "*"): "too many attachments (at most 10)",
}


def refusal_cause(errors: list[FieldError]) -> str:
    """One line of plain ASCII (an SMTP reply carries nothing else) naming each reason, without the values."""
    causes: list[str] = []
    for error in errors:
        field, code = error["field"], error["code"]
        cause = _CAUSES.get((field, code)) or _CAUSES.get((field, "*")) or f"{field} is not valid ({code})"
        if cause not in causes:
            causes.append(cause)
    return "; ".join(causes)
