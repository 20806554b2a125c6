"""The "Gửi phản ánh" form as data: what the citizen typed, the submission intake expects, and intake's
field errors placed back next to the inputs they are about. No I/O here.

Form inputs are named after intake's fields ("reporter.cccd", "location.ward_code"), so an error intake
reports on a field finds its input without a lookup table; only the errors about a group of inputs
("location", "reporter", "media.0.id") need `input_of`.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")

TEXT_INPUTS = (
    "reporter.full_name",
    "reporter.phone",
    "reporter.cccd",
    "reporter.address",
    "reporter.email",
    "title",
    "category",
    "content",
    "occurred_at",
    "location.ward_code",
    "location.address_text",
    "location.lat",
    "location.lon",
)
CHECKBOXES = ("public", "anonymous", "consent.use_personal_data", "consent.publish")
FILE_INPUTS = ("anh", "video", "ghi_am")  # photo, video, voice recording: one input each, for the phone's picker
MAX_FILES = 10  # intake's limit per report
GENERAL = ""  # errors about no input in particular: shown at the top of the form


@dataclass(frozen=True)
class Upload:
    """A file already in the media service; the token proves to intake that this citizen uploaded it."""

    id: str
    token: str
    name: str

    @property
    def hidden_value(self) -> str:
        return f"{self.id}:{self.token}"


@dataclass
class ReportForm:
    values: dict[str, str]
    checked: set[str]
    uploads: list[Upload]
    # One per rendering of the empty form, carried in a hidden field: a double click, a refresh or a retry
    # after an error sends the same key, and intake makes one report of them.
    idempotency_key: str
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def empty(cls, now: datetime) -> ReportForm:
        # Consent to use personal data is preselected: without it, agencies cannot call the citizen back.
        return cls(
            values={"occurred_at": now.astimezone(VIETNAM).strftime("%Y-%m-%dT%H:%M")},
            checked={"consent.use_personal_data"},
            uploads=[],
            idempotency_key=str(uuid.uuid4()),
        )

    @classmethod
    def posted(cls, post: Mapping[str, Any], uploads: list[Upload]) -> ReportForm:
        """The form as posted (`post`: the parsed body; a MultiDict's `.get` gives the first value)."""
        values = {name: _text(post.get(name)).strip() for name in TEXT_INPUTS}
        key = _text(post.get("idempotency_key")).strip()
        try:
            uuid.UUID(key)
        except ValueError:
            key = str(uuid.uuid4())  # a tampered key: a fresh one, never the client's text as a header
        return cls(
            values={name: value for name, value in values.items() if value},
            checked={name for name in CHECKBOXES if post.get(name)},
            uploads=uploads,
            idempotency_key=key,
        )

    def submission(self) -> dict[str, Any]:
        """The body of intake's POST /api/v1/reports. Coordinates the citizen typed in a way we cannot read
        as numbers become field errors here (intake wants JSON numbers)."""
        value = self.values.get
        return {
            "channel": "web",
            "reporter": {
                "full_name": value("reporter.full_name"),
                "phone": value("reporter.phone"),
                "cccd": value("reporter.cccd"),
                "address": value("reporter.address"),
                "email": value("reporter.email"),
            },
            "title": value("title"),
            "category": value("category"),
            "content": value("content"),
            "occurred_at": value("occurred_at"),
            "location": {
                "ward_code": value("location.ward_code"),
                "address_text": value("location.address_text"),
                "lat": self._coordinate("location.lat"),
                "lon": self._coordinate("location.lon"),
            },
            "public": "public" in self.checked,
            "anonymous": "anonymous" in self.checked,
            "consent": {
                "use_personal_data": "consent.use_personal_data" in self.checked,
                "publish": "consent.publish" in self.checked,
            },
            "media": [{"id": u.id, "upload_token": u.token} for u in self.uploads],
        }

    def _coordinate(self, name: str) -> float | None:
        text = self.values.get(name)
        if text is None:
            return None
        try:
            number = float(text.replace(",", "."))  # 9,6025: the decimal comma Vietnamese keyboards give
        except ValueError:
            number = None
        if number is None or not math.isfinite(number):
            self.errors.setdefault(name, "Vui lòng nhập một số, ví dụ 9.6025.")
            return None
        return number

    def add_errors(self, api_errors: list[dict[str, Any]]) -> None:
        """Intake's (or media's) `{field, code, message}` list, each message put on its input (first wins)."""
        for error in api_errors:
            self.errors.setdefault(input_of(str(error.get("field") or "")), str(error.get("message") or ""))


def input_of(api_field: str) -> str:
    """The form input an API error field is about."""
    if api_field in TEXT_INPUTS or api_field in CHECKBOXES:
        return api_field
    if api_field in ("location", "location.ward_name"):
        return "location"  # the place as a whole: shown in the place's fieldset, on the ward picker
    if api_field == "reporter":
        return "reporter.phone"
    if api_field == "media" or api_field.startswith("media."):
        return "media"
    if api_field.startswith("consent"):
        return "consent.use_personal_data"
    return GENERAL


def uploads_of(hidden: list[str], names: list[str]) -> list[Upload]:
    """Files uploaded earlier (by the page's script, or by an earlier post of this form), from the hidden
    fields `media` ("id:token") and `media_name`, in the same order. Malformed values are dropped."""
    found: list[Upload] = []
    for index, value in enumerate(hidden):
        media_id, _, token = value.partition(":")
        try:
            uuid.UUID(media_id)
        except ValueError:
            continue
        if token and token.replace("-", "").replace("_", "").isalnum():
            name = names[index] if index < len(names) else ""
            found.append(Upload(media_id, token, name[:200]))
    return found


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
