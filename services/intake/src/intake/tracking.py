"""The reporter's side after submitting: follow the report, answer a request for information, rate the
answer, reopen the report. Every action needs the tracking code and its secret; only a reply by email to a
request for information is proven by the sender's address instead (provide_information_by_reporter)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import structlog

from intake import repository
from intake.domain import secret_matches
from intake.events import PRODUCER, media_refs
from intake.models import (
    Answer,
    GivenRating,
    InformationRequest,
    Named,
    NextAction,
    NotificationChoice,
    ProvideInformation,
    RateAnswer,
    Rating,
    ReopenReport,
    TimelineEntry,
    TrackedReport,
)
from intake.service import AlsoRecord, PersonalDataVault, reporter_names
from paht_shared import outbox, reference
from paht_shared.contracts import (
    InformationProvidedV1,
    NotificationPreferencesV1,
    ReportRatedV1,
    ReportReopenedV1,
    ReportStatus,
    topics,
)
from paht_shared.contracts.base import EventData
from paht_shared.envelope import Envelope, utc_now
from paht_shared.text import mask_personal_data

log = structlog.get_logger("intake.tracking")

RATABLE = frozenset({ReportStatus.ANSWERED})
REOPENABLE = frozenset({ReportStatus.ANSWERED, ReportStatus.RATED, ReportStatus.CLOSED})


@dataclass(frozen=True)
class CitizenPolicy:
    answer_window: timedelta  # rate and reopen within this time after the answer
    max_reopens: int
    wrong_secrets_per_code: int
    lock_window: timedelta


class ReportNotFound(Exception):
    """Unknown code or wrong secret: one answer for both, so a code's existence is not revealed."""


class TrackingLocked(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("tracking locked")
        self.retry_after = retry_after


class ChannelWithoutAddress(Exception):
    """The reporter turned on a channel they gave no address for when submitting (a 422 per channel)."""

    def __init__(self, channels: list[str]) -> None:
        super().__init__("channel without address")
        self.channels = channels


class ActionNotAllowed(Exception):
    """The report is not in a state that allows the action (a 409 with `code`)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def _authenticate(pool: asyncpg.Pool, tracking_code: str, secret: str, policy: CitizenPolicy) -> asyncpg.Record:
    """The report row if the secret matches; each miss is counted per code (committed at once, whatever
    the caller does next), and a code with too many misses is locked for a while, right secret or not."""
    async with pool.acquire() as conn:
        lock = await repository.tracking_lock(conn, tracking_code, policy.lock_window)
        if lock is not None and lock["failures"] >= policy.wrong_secrets_per_code:
            retry_after = max(1, int((lock["until"] - utc_now()).total_seconds()))
            raise TrackingLocked(retry_after)
        row = await repository.find_by_tracking_code(conn, tracking_code)
        if row is None or not secret_matches(secret, row["tracking_secret_hash"]):
            await repository.count_wrong_secret(conn, tracking_code, policy.lock_window)
            log.info("tracking_secret_refused", known_code=row is not None)
            raise ReportNotFound
    return row


async def track_report(
    pool: asyncpg.Pool, vault: PersonalDataVault, tracking_code: str, secret: str, policy: CitizenPolicy
) -> TrackedReport:
    row = await _authenticate(pool, tracking_code, secret, policy)
    async with pool.acquire() as conn:
        events = await repository.timeline(conn, row["id"])
        requests = await repository.information_requests(conn, row["id"])
        notifications = await _notifications(conn, row["id"])
    original = vault.open_original(row["id"], row["original_enc"]) if row["original_enc"] else {}
    status = ReportStatus(row["status"])
    info = [
        InformationRequest(question=r["question"], asked_at=r["asked_at"], reply=r["reply"], replied_at=r["replied_at"])
        for r in requests
    ]
    return TrackedReport(
        id=row["id"],
        tracking_code=row["tracking_code"],
        # the reporter sees what they wrote; everyone else sees it masked
        title=original.get("title") or row["title"],
        content=original.get("content") or row["content"],
        category=category_named(row["category"]),
        ward=ward_named(row["ward_code"]),
        status=status,
        status_label=status.label,
        agency=named(row["agency_code"], row["agency_name"]),
        due_at=row["due_at"],
        submitted_at=row["submitted_at"],
        received_at=row["received_at"],
        updated_at=row["updated_at"],
        public=row["is_public"],
        anonymous=row["anonymous"],
        information_requests=info,
        answer=answer_of(row),
        rating=_rating_of(row),
        next_actions=next_actions(row, info, policy),
        timeline=timeline_of(events),
        notifications=_choice(notifications),
    )


def next_actions(row: asyncpg.Record, info: list[InformationRequest], policy: CitizenPolicy) -> list[NextAction]:
    """What the reporter may do now, and until when."""
    status = ReportStatus(row["status"])
    actions = []
    if status == ReportStatus.NEEDS_INFO and any(r.reply is None for r in info):
        actions.append(NextAction(action="provide_info", until=None))
    if row["answered_at"] is not None:
        until = row["answered_at"] + policy.answer_window
        if utc_now() <= until:
            if status in RATABLE and row["rating"] is None:
                actions.append(NextAction(action="rate", until=until))
            if status in REOPENABLE and row["reopen_count"] < policy.max_reopens:
                actions.append(NextAction(action="reopen", until=until))
    return actions


async def provide_information(
    pool: asyncpg.Pool,
    vault: PersonalDataVault,
    tracking_code: str,
    secret: str,
    cmd: ProvideInformation,
    policy: CitizenPolicy,
    correlation_id: str,
) -> None:
    row = await _authenticate(pool, tracking_code, secret, policy)
    await _add_information(pool, vault, row, cmd, correlation_id)


async def provide_information_by_reporter(
    pool: asyncpg.Pool,
    vault: PersonalDataVault,
    tracking_code: str,
    email: str,
    text: str,
    correlation_id: str,
    also: AlsoRecord | None = None,
) -> uuid.UUID:
    """The reporter's reply by email. The sender's address, compared through its blind index, proves who they
    are instead of the secret: a report not sent from that address is ReportNotFound, like a wrong secret.
    Then, in this order: a report routing has not looked at yet (still `submitted`) may be about to be asked,
    ActionNotAllowed("not_triaged_yet"); one not waiting for information, ActionNotAllowed
    ("no_information_request"); a text the reply model refuses, pydantic's ValidationError. `also` records
    what the channel needs in the reply's transaction (the message's idempotency key). Returns the report id."""
    async with pool.acquire() as conn:
        row = await repository.find_by_reporter_email(conn, tracking_code, vault.email_index(email))
    if row is None:
        raise ReportNotFound
    status = ReportStatus(row["status"])
    if status == ReportStatus.SUBMITTED:
        raise ActionNotAllowed("not_triaged_yet")
    if status != ReportStatus.NEEDS_INFO:  # checked again under the row's lock
        raise ActionNotAllowed("no_information_request")
    await _add_information(pool, vault, row, ProvideInformation(text=text), correlation_id, also)
    report_id: uuid.UUID = row["id"]
    return report_id


async def _add_information(
    pool: asyncpg.Pool,
    vault: PersonalDataVault,
    row: asyncpg.Record,
    cmd: ProvideInformation,
    correlation_id: str,
    also: AlsoRecord | None = None,
) -> None:
    """The reply to the open request for information: masked, on the timeline, published."""
    tracking_code = row["tracking_code"]
    now = utc_now()
    async with pool.acquire() as conn, conn.transaction():
        current = await repository.find_by_tracking_code(conn, tracking_code, for_update=True)
        assert current is not None  # noqa: S101 - reports are never deleted
        open_requests = [r for r in await repository.information_requests(conn, row["id"]) if r["reply"] is None]
        if ReportStatus(current["status"]) != ReportStatus.NEEDS_INFO or not open_requests:
            raise ActionNotAllowed("no_information_request")
        assert cmd.text is not None  # noqa: S101 - required by the model
        text = mask_personal_data(cmd.text, await reporter_names(conn, vault, row["id"]))
        await repository.reply_to_information_request(conn, open_requests[-1]["id"], text, cmd.attached, now)
        await repository.add_timeline(
            conn, row["id"], current["status"], current["status_sequence"], now,
            note="Người phản ánh đã bổ sung thông tin.", actor="citizen",
        )  # fmt: skip
        event = InformationProvidedV1(
            report_id=row["id"],
            tracking_code=tracking_code,
            text=text,
            media_ids=tuple(cmd.attached),
            provided_at=now,
            media=media_refs(cmd.media),
        )
        await _publish(conn, event, row["id"], correlation_id)
        if also is not None:
            await also(conn, row["id"])
    log.info("information_provided", report_id=str(row["id"]))


async def rate_answer(
    pool: asyncpg.Pool,
    vault: PersonalDataVault,
    tracking_code: str,
    secret: str,
    cmd: RateAnswer,
    policy: CitizenPolicy,
    correlation_id: str,
) -> None:
    row = await _authenticate(pool, tracking_code, secret, policy)
    now = utc_now()
    async with pool.acquire() as conn, conn.transaction():
        current = await repository.find_by_tracking_code(conn, tracking_code, for_update=True)
        assert current is not None  # noqa: S101 - reports are never deleted
        if current["rating"] is not None:
            raise ActionNotAllowed("already_rated")
        if ReportStatus(current["status"]) not in RATABLE:
            raise ActionNotAllowed("not_answered")
        if now > current["answered_at"] + policy.answer_window:
            raise ActionNotAllowed("window_passed")
        comment = mask_personal_data(cmd.comment, await reporter_names(conn, vault, row["id"])) if cmd.comment else None
        await repository.set_rating(conn, row["id"], cmd.rating.value, comment, now)
        await repository.add_timeline(
            conn, row["id"], ReportStatus.RATED, current["status_sequence"], now, note=cmd.rating.label, actor="citizen"
        )
        event = ReportRatedV1(
            report_id=row["id"], tracking_code=tracking_code, rating=cmd.rating.value, comment=comment, rated_at=now
        )
        await _publish(conn, event, row["id"], correlation_id)
    log.info("answer_rated", report_id=str(row["id"]), rating=cmd.rating.value)


async def reopen_report(
    pool: asyncpg.Pool,
    vault: PersonalDataVault,
    tracking_code: str,
    secret: str,
    cmd: ReopenReport,
    policy: CitizenPolicy,
    correlation_id: str,
) -> None:
    row = await _authenticate(pool, tracking_code, secret, policy)
    now = utc_now()
    async with pool.acquire() as conn, conn.transaction():
        current = await repository.find_by_tracking_code(conn, tracking_code, for_update=True)
        assert current is not None  # noqa: S101 - reports are never deleted
        if ReportStatus(current["status"]) not in REOPENABLE or current["answered_at"] is None:
            raise ActionNotAllowed("not_answered")
        if now > current["answered_at"] + policy.answer_window:
            raise ActionNotAllowed("window_passed")
        if current["reopen_count"] >= policy.max_reopens:
            raise ActionNotAllowed("reopen_limit_reached")
        assert cmd.reason is not None  # noqa: S101 - required by the model
        reason = mask_personal_data(cmd.reason, await reporter_names(conn, vault, row["id"]))
        count = await repository.set_reopened(conn, row["id"], now)
        await repository.add_timeline(
            conn, row["id"], ReportStatus.REOPENED, current["status_sequence"], now, note=reason, actor="citizen"
        )
        event = ReportReopenedV1(
            report_id=row["id"], tracking_code=tracking_code, reason=reason, reopen_count=count, reopened_at=now
        )
        await _publish(conn, event, row["id"], correlation_id)
    log.info("report_reopened", report_id=str(row["id"]), reopen_count=count)


async def set_notifications(
    pool: asyncpg.Pool,
    _vault: PersonalDataVault,
    tracking_code: str,
    secret: str,
    cmd: NotificationChoice,
    policy: CitizenPolicy,
    correlation_id: str,
) -> None:
    """The reporter turns channels on or off; notify learns it from report.notification_preferences.

    No timeline entry: the choice is about the messages, not the report. A channel the reporter gave no
    address for stays off (notify has nothing to send to)."""
    row = await _authenticate(pool, tracking_code, secret, policy)
    now = utc_now()
    async with pool.acquire() as conn, conn.transaction():
        current = await _notifications(conn, row["id"], for_update=True)
        assert current is not None  # noqa: S101 - reports are never deleted
        chosen = cmd.model_dump()
        missing = [ch for ch, on in chosen.items() if on and current[f"notify_{ch}"] is None]
        if missing:
            raise ChannelWithoutAddress(missing)
        await conn.execute(
            # NULL (no address) stays NULL; the others take the new choice
            "UPDATE reports SET notify_email = CASE WHEN notify_email IS NULL THEN NULL ELSE $2::boolean END, "
            "notify_sms = CASE WHEN notify_sms IS NULL THEN NULL ELSE $3::boolean END, "
            "notify_push = CASE WHEN notify_push IS NULL THEN NULL ELSE $4::boolean END WHERE id = $1",
            row["id"],
            cmd.email,
            cmd.sms,
            cmd.push,
        )
        event = NotificationPreferencesV1(
            report_id=row["id"],
            tracking_code=tracking_code,
            email=cmd.email,
            sms=cmd.sms,
            push=cmd.push,
            changed_at=now,
        )
        await _publish(conn, event, row["id"], correlation_id)
    log.info("notification_preferences_changed", report_id=str(row["id"]), **chosen)


# The notification columns are read and written here rather than in repository.py (0004 added them).
async def _notifications(
    conn: asyncpg.Connection, report_id: uuid.UUID, for_update: bool = False
) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT notify_email, notify_sms, notify_push FROM reports WHERE id = $1{lock}", report_id
    )
    return row


def _choice(row: asyncpg.Record | None) -> NotificationChoice:
    """NULL (no address for the channel) shows as off."""
    if row is None:
        return NotificationChoice(email=False, sms=False, push=False)
    return NotificationChoice(
        email=bool(row["notify_email"]), sms=bool(row["notify_sms"]), push=bool(row["notify_push"])
    )


async def _publish(conn: asyncpg.Connection, data: EventData, report_id: uuid.UUID, correlation_id: str) -> None:
    await outbox.add(
        conn, topics.REPORT_CITIZEN_ACTIONS, Envelope.of(data, PRODUCER, correlation_id), key=str(report_id)
    )


def named(code: str | None, name: str | None) -> Named | None:
    return Named(code=code, name=name or code) if code else None


def category_named(code: str) -> Named:
    category = reference.category(code)
    return Named(code=code, name=category.name if category else code)


def ward_named(code: str | None, province_code: int = 92) -> Named | None:
    if code is None:
        return None
    return Named(code=code, name=reference.wards(province_code).get(code, code))


def answer_of(row: asyncpg.Record) -> Answer | None:
    if row["answer_text"] is None:
        return None
    return Answer(
        text=row["answer_text"],
        media_ids=list(row["answer_media_ids"]),
        agency=named(row["answer_agency_code"], row["answer_agency_name"]),
        answered_at=row["answered_at"],
        on_time=row["answered_on_time"],
    )


def _rating_of(row: asyncpg.Record) -> GivenRating | None:
    if row["rating"] is None:
        return None
    rating = Rating(row["rating"])
    return GivenRating(rating=rating, label=rating.label, comment=row["rating_comment"], rated_at=row["rated_at"])


def timeline_of(events: list[asyncpg.Record]) -> list[TimelineEntry]:
    return [
        TimelineEntry(
            status=ReportStatus(e["status"]),
            status_label=ReportStatus(e["status"]).label,
            actor=e["actor"],
            agency=named(e["agency_code"], e["agency_name"]),
            note=e["note"],
            at=e["at"],
        )
        for e in events
    ]
