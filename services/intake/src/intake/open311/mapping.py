"""Open311 GeoReport v2 fields <-> our report, and our statuses -> open/closed. Pure: no I/O.

Errors are raised as Open311Error with the HTTP status and Vietnamese descriptions; handlers render them as the
spec's error list.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from intake.messages import FieldError
from intake.models import VIETNAM
from paht_shared import reference
from paht_shared.contracts import Channel, ReportStatus
from paht_shared.text import fold

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"


class Open311Error(Exception):
    """A refusal: one HTTP status and the descriptions of every problem (the spec's error list)."""

    def __init__(self, status: int, descriptions: list[str]) -> None:
        super().__init__(f"open311 error {status}")
        self.status = status
        self.descriptions = descriptions


# --- statuses ---------------------------------------------------------------------------------------------

# Closed: the agency has finished with the report (answered it, the citizen rated it, it was closed or
# rejected). Everything else is still being handled, including a report the citizen reopened.
CLOSED_STATUSES = frozenset({ReportStatus.ANSWERED, ReportStatus.RATED, ReportStatus.CLOSED, ReportStatus.REJECTED})
OPEN_STATUSES = frozenset(ReportStatus) - CLOSED_STATUSES
# The agency's answer is the status note of a report it answered (a reopened report's old answer is not).
ANSWER_SHOWN = frozenset({ReportStatus.ANSWERED, ReportStatus.RATED, ReportStatus.CLOSED})

Open311Status = Literal["open", "closed"]


def open311_status(status: ReportStatus) -> Open311Status:
    return "closed" if status in CLOSED_STATUSES else "open"


def our_statuses(wanted: Open311Status) -> frozenset[ReportStatus]:
    return CLOSED_STATUSES if wanted == "closed" else OPEN_STATUSES


# --- answers ----------------------------------------------------------------------------------------------


class Service(BaseModel):
    """A service type: one of our active categories."""

    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: Literal["realtime", "batch", "blackbox"]
    keywords: str
    group: str


class ServiceDefinition(BaseModel):
    """Our categories ask nothing beyond the standard fields, so the attribute list is always empty."""

    service_code: str
    attributes: list[dict[str, Any]]


class ServiceRequest(BaseModel):
    """A public report as GET requests shows it: masked text, never the reporter."""

    service_request_id: str
    status: Open311Status
    status_notes: str | None
    service_name: str
    service_code: str
    description: str
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: str
    updated_datetime: str
    expected_datetime: str | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None


class CreatedRequest(BaseModel):
    """The answer to POST requests: the id at once (we create synchronously) and a token that resolves to it."""

    service_request_id: str
    token: str
    service_notice: str
    account_id: str | None


class TokenAnswer(BaseModel):
    service_request_id: str
    token: str


def timestamp(moment: datetime) -> str:
    """ISO 8601 in the province's time, with its offset (2026-11-27T08:30:00+07:00)."""
    return moment.astimezone(VIETNAM).replace(microsecond=0).isoformat()


def services() -> list[Service]:
    fields = {f.code: f.name for f in reference.fields()}
    return [
        Service(
            service_code=c.code,
            service_name=c.name,
            description=f"{fields.get(c.field, c.field)}: {c.name}",
            metadata=False,
            type="realtime",
            # without diacritics too: integrators' search boxes are not always Vietnamese-aware
            keywords=", ".join(dict.fromkeys([c.name, fold(c.name), fields.get(c.field, c.field)])),
            group=fields.get(c.field, c.field),
        )
        for c in reference.categories()
        if c.active
    ]


# The GeoReport v2 schema caps a request's description at 4,000 characters; our reports may have 5,000.
DESCRIPTION_MAX = 4000


def _shortened(text: str | None, limit: int) -> str | None:
    """`text`, or its first `limit` characters ending in "…" (the whole report is on our own public page)."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def service_request(row: Mapping[str, Any], province_code: int) -> ServiceRequest:
    """A public report row (queries.py's columns) as Open311 shows it; its texts are stored masked."""
    status = ReportStatus(row["status"])
    category = reference.category(row["category"])
    ward = reference.wards(province_code).get(row["ward_code"]) if row["ward_code"] else None
    address = ", ".join(part for part in (row["address_text"], ward) if part) or None
    return ServiceRequest(
        service_request_id=row["tracking_code"],
        status=open311_status(status),
        status_notes=row["answer_text"] if status in ANSWER_SHOWN else None,
        service_name=category.name if category else row["category"],
        service_code=row["category"],
        description=_shortened(row["content"], DESCRIPTION_MAX),
        agency_responsible=row["agency_name"],
        service_notice=None,
        requested_datetime=timestamp(row["submitted_at"]),
        updated_datetime=timestamp(row["updated_at"]),
        expected_datetime=timestamp(row["due_at"]) if row["due_at"] else None,
        address=address,
        address_id=row["ward_code"],
        zipcode=None,
        lat=row["lat"],
        long=row["lon"],
        media_url=None,
    )


# --- POST requests ----------------------------------------------------------------------------------------

# The spec's fields, and `public` (ours: the reporter agrees that the report, never the reporter, is shown).
POST_FIELDS = frozenset(
    {"api_key", "jurisdiction_id", "service_code", "lat", "long", "address_string", "address_id", "email",
     "device_id", "account_id", "first_name", "last_name", "phone", "description", "media_url", "public"}
)  # fmt: skip
TITLE_MAX = 80
TITLE_MIN = 5  # a report's title is 5-200 characters (models.Title)
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n")


def title_of(description: str) -> str:
    """The report's title: the description's first sentence, at most 80 characters (cut at a word)."""
    first = " ".join(_SENTENCE_END.split(description.strip(), maxsplit=1)[0].split()).rstrip(".")
    if len(first) < TITLE_MIN:
        first = " ".join(description.split())
    if len(first) <= TITLE_MAX:
        return first
    cut = first[: TITLE_MAX - 1]
    if first[len(cut)] != " " and " " in cut:  # the cut falls inside a word: end before it
        at_word = cut[: cut.rfind(" ")]
        cut = at_word if len(at_word) >= TITLE_MIN else cut
    return cut.rstrip(" ,;:") + "…"


def _coordinate(form: Mapping[str, str], name: str) -> float | None:
    text = form.get(name, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise Open311Error(400, [f"{name}: phải là một số (độ thập phân WGS84)."]) from None
    if not math.isfinite(value):
        raise Open311Error(400, [f"{name}: phải là một số (độ thập phân WGS84)."])
    return value


def _flag(form: Mapping[str, str], name: str) -> bool:
    text = form.get(name, "").strip().lower()
    if text in ("", "false", "0"):
        return False
    if text in ("true", "1"):
        return True
    raise Open311Error(400, [f"{name}: chỉ nhận true hoặc false."])


def submission(form: Mapping[str, str]) -> dict[str, Any]:
    """The submission (our citizen API's shape) an Open311 POST describes; checked by validation.py next.

    Not carried: device_id and account_id (the integrator's own ids), jurisdiction_id (one jurisdiction),
    media_url (never fetched). Consent to share the identity with agencies is never assumed: Open311 cannot
    ask for it."""
    unknown = sorted(set(form) - POST_FIELDS)
    if unknown:
        raise Open311Error(400, [f"{printable_name(name)}: tham số không được hỗ trợ." for name in unknown])

    def text(name: str) -> str | None:
        return form.get(name, "").strip() or None

    description = text("description")
    public = _flag(form, "public")
    name = " ".join(part for part in (text("first_name"), text("last_name")) if part) or None
    location = {
        "ward_code": text("address_id"),
        "address_text": text("address_string"),
        "lat": _coordinate(form, "lat"),
        "lon": _coordinate(form, "long"),
    }
    return {
        "channel": Channel.OPEN311.value,
        "reporter": {"full_name": name, "phone": text("phone"), "email": text("email")},
        "title": title_of(description) if description else None,
        "category": text("service_code"),
        "content": description,
        "location": {k: v for k, v in location.items() if v is not None},
        "public": public,
        "anonymous": False,
        "consent": {"use_personal_data": False, "publish": public},
    }


def printable_name(name: str) -> str:
    """A parameter name as an error may repeat it: a client may send anything as a name."""
    return name if re.fullmatch(r"[A-Za-z0-9_\[\]]{1,40}", name) else "?"


# our field -> the Open311 parameter a client has to fix
_PARAMETER = {
    "category": "service_code",
    "content": "description",
    "title": "description",
    "location": "lat/long, address_string hoặc address_id",
    "location.lat": "lat",
    "location.lon": "long",
    "location.address_text": "address_string",
    "location.ward_code": "address_id",
    "location.ward_name": "address_string",
    "reporter.full_name": "first_name/last_name",
    "reporter.phone": "phone",
    "reporter.email": "email",
    "public": "public",
}


def descriptions(errors: list[FieldError]) -> list[str]:
    """Our field errors (validation.py) as Open311 error descriptions, named by the Open311 parameter."""
    found: list[str] = []
    for error in errors:
        parameter = "email hoặc phone" if error["code"] == "contact_required" else _PARAMETER.get(error["field"], "?")
        description = f"{parameter}: {error['message']}"
        if description not in found:
            found.append(description)
    return found


# --- GET requests -----------------------------------------------------------------------------------------

WINDOW = timedelta(days=90)  # the spec's default and widest date range
MAX_PAGE_SIZE = 1000  # the spec lets a server return at most 1000 requests
MAX_IDS = 1000
MAX_PAGE = 10_000
REQUESTS_QUERY = frozenset(
    {"service_request_id", "service_code", "start_date", "end_date", "status", "jurisdiction_id", "page", "page_size"}
)


@dataclass(frozen=True)
class RequestQuery:
    """What GET requests asks for. `ids` set: exactly those requests, no date window (the spec: they override
    every other parameter)."""

    ids: tuple[str, ...] | None
    service_codes: tuple[str, ...] | None
    statuses: tuple[str, ...] | None
    start: datetime | None
    end: datetime | None
    page: int
    page_size: int


def _datetime(text: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise Open311Error(400, [f"{name}: không đúng định dạng (ví dụ 2026-11-27T08:30:00+07:00)."]) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=VIETNAM)  # no offset: the province's time


def _number(text: str | None, name: str, default: int, highest: int) -> int:
    if text is None:
        return default
    if not text.strip().isdigit() or not 1 <= int(text) <= highest:
        raise Open311Error(400, [f"{name}: phải là số nguyên từ 1 đến {highest}."])
    return int(text)


def _list(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    items = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    return items or None


def request_query(query: Mapping[str, str], now: datetime) -> RequestQuery:
    """GET requests' parameters (repeated ones already joined with commas). Without dates: the last 90 days;
    with one date, the 90 days from or up to it; two dates may not span more than 90 days."""
    unknown = sorted(set(query) - REQUESTS_QUERY)
    if unknown:
        raise Open311Error(400, [f"{printable_name(name)}: tham số không được hỗ trợ." for name in unknown])
    page = _number(query.get("page"), "page", 1, MAX_PAGE)
    page_size = _number(query.get("page_size"), "page_size", MAX_PAGE_SIZE, MAX_PAGE_SIZE)
    ids = _list(query.get("service_request_id"))
    if ids is not None:
        if len(ids) > MAX_IDS:
            raise Open311Error(400, [f"service_request_id: tối đa {MAX_IDS} mã mỗi lần."])
        return RequestQuery(tuple(i.upper()[:20] for i in ids), None, None, None, None, page, page_size)
    statuses: tuple[str, ...] | None = None
    wanted = _list(query.get("status"))
    if wanted is not None:
        if not set(wanted) <= {"open", "closed"}:
            raise Open311Error(400, ["status: chỉ nhận open hoặc closed."])
        statuses = tuple(sorted(s.value for w in wanted for s in our_statuses("closed" if w == "closed" else "open")))
    start = _datetime(query["start_date"], "start_date") if query.get("start_date") else None
    end = _datetime(query["end_date"], "end_date") if query.get("end_date") else None
    if start is None and end is None:
        start, end = now - WINDOW, now
    elif start is None:
        assert end is not None  # noqa: S101 - one of the two is set
        start = end - WINDOW
    elif end is None:
        end = start + WINDOW
    if end < start:
        raise Open311Error(400, ["end_date: phải sau start_date."])
    if end - start > WINDOW:
        raise Open311Error(400, ["start_date, end_date: khoảng thời gian tối đa 90 ngày."])
    return RequestQuery(None, _list(query.get("service_code")), statuses, start, end, page, page_size)
