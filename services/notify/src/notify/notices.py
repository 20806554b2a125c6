"""What each person hears about a report, in Vietnamese: the citizen on their channels, the agency by email.

Pure: facts in, rendered `Notice`s out (no database, no network). The wording lives in Jinja2 templates
(`templates/<kind>.<channel>.j2`) so that it can be reviewed and changed without touching code.

Privacy is enforced here rather than trusted to callers: each kind reads only the facts on its allow-list,
so a caller that passes a whole event (with the agency's internal `note`, its email, the reporter's sealed
contact) still cannot get any of it into a message. The citizen hears the tracking code and the public
tracking link, never the tracking secret (the tracking page asks for it).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, Template

from paht_shared.calendar import TIMEZONE
from paht_shared.contracts import ReportStatus

Audience = Literal["citizen", "agency"]
ChannelName = Literal["email", "sms", "push"]

CITIZEN_KINDS = frozenset(
    {
        "citizen.received",
        "citizen.needs_info",
        "citizen.assigned",
        "citizen.answered",
        "citizen.rejected",
        "citizen.reopened",
    }
)
AGENCY_KINDS = frozenset({"agency.assigned", "agency.due_soon", "agency.overdue"})

# The statuses a citizen is told about. In progress, returned (an agency declined; the report is re-routed and
# the citizen later hears `assigned`), rated and closed are the citizen's own doing or internal steps.
_CITIZEN_STATUSES = frozenset(
    {
        ReportStatus.NEEDS_INFO,
        ReportStatus.ASSIGNED,
        ReportStatus.ANSWERED,
        ReportStatus.REJECTED,
        ReportStatus.REOPENED,
    }
)

# Allow-lists: facts a template must have, and facts it may have (None when absent, so that StrictUndefined
# catches only real template mistakes, never an optional fact the event did not carry).
_CITIZEN_REQUIRED = ("tracking_code", "title")
_CITIZEN_OPTIONAL = (
    "category_name", "agency_name", "due_at", "message", "received_at",
    # reception only: what an incomplete report lacks, and the secret of a reporter who got no receipt (email)
    "missing", "emailed_secret",
)  # fmt: skip
_AGENCY_REQUIRED: Mapping[str, tuple[str, ...]] = {
    "agency.assigned": ("report_id", "agency_name", "tracking_code", "title", "category", "due_at"),
    # report.deadline carries no title, ward or triage flag: those are shown only when given.
    "agency.due_soon": ("report_id", "agency_name", "tracking_code", "category", "due_at"),
    "agency.overdue": ("report_id", "agency_name", "tracking_code", "category", "due_at"),
}
_AGENCY_OPTIONAL = ("agency_code", "title", "category_name", "ward_code", "triage", "emergency")

_DATE_FORMAT = "%H:%M %d/%m/%Y"


@dataclass(frozen=True)
class Contact:
    """The citizen's, opened from the sealed contact; any address may be None (an anonymous reporter)."""

    email: str | None
    phone: str | None  # E.164
    push_token: str | None
    email_on: bool
    sms_on: bool
    push_on: bool


@dataclass(frozen=True)
class Notice:
    """One rendered message for one recipient on one channel.

    `text`: email, the plain-text body; sms, already fitted by the caller's `fit`; push, the title on the
    first line and a short body after it.
    """

    audience: Audience
    channel: ChannelName
    recipient: str
    kind: str
    subject: str | None  # email only
    text: str
    agency_code: str | None = None


@dataclass(frozen=True)
class Links:
    """Where messages point: the public tracking page and the agency console, on the portal."""

    portal_url: str

    def tracking(self, tracking_code: str) -> str:
        return f"{self._base}/tra-cuu/{quote(tracking_code, safe='')}"

    def agency_report(self, report_id: uuid.UUID) -> str:
        return f"{self._base}/co-quan/phan-anh/{report_id}"

    @property
    def _base(self) -> str:
        return self.portal_url.rstrip("/")


def citizen_kind(status: ReportStatus) -> str | None:
    """The citizen notice a status change calls for, or None. Reception comes from report.submitted instead."""
    return f"citizen.{status.value}" if status in _CITIZEN_STATUSES else None


def for_citizen(
    kind: str,
    facts: Mapping[str, Any],
    contact: Contact,
    links: Links,
    fit_sms: Callable[[str], str] = lambda text: text,
) -> list[Notice]:
    """One notice per channel the citizen left on and has an address for (email, then SMS, then push)."""
    if kind not in CITIZEN_KINDS:
        raise ValueError(f"unknown citizen notice kind: {kind}")
    context = _context(kind, facts, _CITIZEN_REQUIRED, _CITIZEN_OPTIONAL)
    context["tracking_url"] = links.tracking(str(context["tracking_code"]))
    notices: list[Notice] = []
    if contact.email_on and contact.email:
        subject, body = _render_email(kind, context)
        notices.append(Notice("citizen", "email", contact.email, kind, subject, body))
    if contact.sms_on and contact.phone:
        # One line: a line break costs a character and some handsets show it as a box.
        text = fit_sms(_one_line(_render(kind, "sms", context)))
        notices.append(Notice("citizen", "sms", contact.phone, kind, None, text))
    if contact.push_on and contact.push_token:
        title, _, body = _render(kind, "push", context).strip().partition("\n")
        text = f"{_one_line(title)}\n{_one_line(body)}"
        notices.append(Notice("citizen", "push", contact.push_token, kind, None, text))
    return notices


def for_agency(kind: str, facts: Mapping[str, Any], agency_email: str | None, links: Links) -> list[Notice]:
    """The agency's email (agencies are reached by email only), or nothing when it has no address."""
    if kind not in AGENCY_KINDS:
        raise ValueError(f"unknown agency notice kind: {kind}")
    context = _context(kind, facts, _AGENCY_REQUIRED[kind], _AGENCY_OPTIONAL)
    if not agency_email:
        return []
    report_id = context["report_id"]
    if not isinstance(report_id, uuid.UUID):
        report_id = uuid.UUID(str(report_id))
    context["report_url"] = links.agency_report(report_id)
    subject, body = _render_email(kind, context)
    agency_code = context["agency_code"]
    return [Notice("agency", "email", agency_email, kind, subject, body, str(agency_code) if agency_code else None)]


def vietnam_time(value: datetime | str) -> str:
    """`HH:MM dd/mm/YYYY` on Vietnam's clock, as people there read a time. Naive means UTC, the platform's rule."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(TIMEZONE).strftime(_DATE_FORMAT)


def _context(
    kind: str, facts: Mapping[str, Any], required: tuple[str, ...], optional: tuple[str, ...]
) -> dict[str, Any]:
    missing = [name for name in required if facts.get(name) in (None, "")]
    if missing:
        raise ValueError(f"{kind}: missing facts {', '.join(missing)}")
    return {name: facts.get(name) for name in (*required, *optional)}


@functools.cache
def _environment() -> Environment:
    # Built on first use rather than at import: nothing is read from the package until a message is rendered.
    environment = Environment(
        loader=PackageLoader("notify", "templates"),
        autoescape=False,  # noqa: S701 -- plain text (email text/plain, SMS, push): nothing is parsed as HTML
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        # Plain text shows every stray newline: a `{% if %}` line leaves none behind.
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["vn_time"] = vietnam_time
    return environment


def _template(kind: str, channel: ChannelName) -> Template:
    return _environment().get_template(f"{kind}.{channel}.j2")


def _render(kind: str, channel: ChannelName, context: Mapping[str, Any]) -> str:
    return _template(kind, channel).render(context)


def _render_email(kind: str, context: Mapping[str, Any]) -> tuple[str, str]:
    """Subject (the template's `subject` block, on one line: it becomes a header) and plain-text body."""
    template = _template(kind, "email")
    subject = "".join(template.blocks["subject"](template.new_context(dict(context))))
    return _one_line(subject), template.render(context).strip() + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def agency_digest(
    agency_name: str, agency_email: str, items: list[Mapping[str, Any]], period: str, links: Links
) -> Notice:
    """One email for an agency's waiting items (new assignments and nearly-due reports): each with its tracking
    code, title, deadline and link. `items` need kind, report_id, tracking_code, title, due_at."""
    template = _template("agency.digest", "email")
    context = {
        "agency_name": agency_name,
        "period": period,
        "console_url": links.portal_url.rstrip("/") + "/co-quan",
        "items": [{**item, "url": links.agency_report(uuid.UUID(str(item["report_id"])))} for item in items],
    }
    subject = "".join(template.blocks["subject"](template.new_context(context)))
    body = "".join(template.blocks["body"](template.new_context(context)))
    return Notice("agency", "email", agency_email, "agency.digest", _one_line(subject), body.strip() + "\n")
