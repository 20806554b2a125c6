"""Use cases of a submission: store a report (and its event) once, and apply routing's status changes."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import structlog

from intake import repository
from intake.domain import hash_secret, new_tracking_code, new_tracking_secret
from intake.events import PRODUCER, notification_channels, report_submitted, seal_contact
from intake.models import ReportReceipt, SubmitReport
from intake.validation import CheckedReport
from paht_shared import outbox
from paht_shared.calendar import OfficeCalendar
from paht_shared.contracts import Channel, ReportStatus, ReportStatusChangedV1, topics
from paht_shared.contracts.dispatch import Event
from paht_shared.crypto import FieldCipher, blind_index
from paht_shared.envelope import Envelope, utc_now
from paht_shared.text import fold, mask_personal_data

log = structlog.get_logger("intake.service")


class IdempotencyKeyReused(Exception):
    """The key was already used for a different request body."""


class TooManySubmissions(Exception):
    """The phone sent its share of reports for the hour; nothing was written."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many submissions")
        self.retry_after = retry_after


@dataclass(frozen=True)
class PersonalDataVault:
    cipher: FieldCipher
    blind_index_key: bytes
    notify_public_key: str | None = None  # seals the reporter's contact for notify; None: no notifications

    def seal_reporter(self, reporter_id: uuid.UUID, cmd: SubmitReport) -> dict[str, bytes | None]:
        r = cmd.reporter
        values = {"full_name": r.full_name, "address": r.address, "cccd": r.cccd, "phone": r.phone, "email": r.email}
        sealed: dict[str, bytes | None] = {
            column: None if value is None else self.cipher.encrypt(str(value), f"reporters.{column}:{reporter_id}")
            for column, value in values.items()
        }
        sealed["phone_bidx"] = self.phone_index(r.phone) if r.phone else None
        sealed["cccd_bidx"] = blind_index(self.blind_index_key, "cccd", r.cccd) if r.cccd else None
        sealed["email_bidx"] = self.email_index(r.email) if r.email else None
        return sealed

    def phone_index(self, phone: str) -> bytes:
        return blind_index(self.blind_index_key, "phone", phone)

    def email_index(self, email: str) -> bytes:
        return blind_index(self.blind_index_key, "email", email.lower())

    def seal_original(self, report_id: uuid.UUID, texts: dict[str, str | None]) -> bytes:
        """The report's texts as typed (they may hold personal data): for the reporter and entitled staff."""
        return self.cipher.encrypt(json.dumps(texts, ensure_ascii=False), f"reports.original:{report_id}")

    def open_original(self, report_id: uuid.UUID, sealed: bytes) -> dict[str, str | None]:
        texts: dict[str, str | None] = json.loads(self.cipher.decrypt(sealed, f"reports.original:{report_id}"))
        return texts


# Channels where the reporter types the report themselves: one phone's reports per hour are limited there.
# A hotline operator's entries are not (an emergency is never turned away); inbound email limits by sender.
SELF_SERVICE = frozenset({Channel.WEB, Channel.APP, Channel.OPEN311})
# Channels whose reporter never sees the receipt (and its tracking secret) themselves.
WITHOUT_RECEIPT = frozenset({Channel.EMAIL, Channel.OPEN311})


@dataclass(frozen=True)
class Reception:
    """When a report counts as received, and how many reports one phone may send per hour."""

    calendar: OfficeCalendar
    per_phone_per_hour: int


def request_hash(cmd: SubmitReport) -> bytes:
    return hashlib.sha256(cmd.model_dump_json().encode()).digest()


# What a channel records beside a new report, in the same transaction (Open311: the api key that sent it).
AlsoRecord = Callable[[asyncpg.Connection, uuid.UUID], Awaitable[None]]


async def submit_report(
    pool: asyncpg.Pool,
    vault: PersonalDataVault,
    checked: CheckedReport,
    idempotency_key: str | None,
    correlation_id: str,
    reception: Reception,
    also: AlsoRecord | None = None,
) -> tuple[ReportReceipt, bool]:
    """Store the report, its reporter (encrypted) and its `report.submitted` event in one transaction
    (with whatever `also` records about it).

    Returns (receipt, replayed): a retry with the same Idempotency-Key gets the first receipt back.
    """
    digest = request_hash(checked.cmd)
    while True:
        if idempotency_key is not None:
            replay = await _replay(pool, vault, idempotency_key, digest)
            if replay is not None:
                return replay, True
        try:
            receipt = await _store_new_report(
                pool, vault, checked, idempotency_key, digest, correlation_id, reception, also
            )
        except _KeyTaken:
            continue  # another request with the same key committed first: answer with its result
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name != "reports_tracking_code_key":
                raise
            continue  # a tracking-code collision (1 in 10^12): draw another
        return receipt, False


class _KeyTaken(Exception):
    pass


async def _replay(pool: asyncpg.Pool, vault: PersonalDataVault, key: str, digest: bytes) -> ReportReceipt | None:
    async with pool.acquire() as conn:
        row = await repository.find_idempotency_key(conn, key)
    if row is None:
        return None
    if bytes(row["request_hash"]) != digest:
        raise IdempotencyKeyReused
    return ReportReceipt.model_validate_json(vault.cipher.decrypt(row["response_enc"], _receipt_aad(key)))


def _receipt_aad(key: str) -> str:
    return f"idempotency_keys.response:{key}"


def masked(text: str | None, cmd: SubmitReport) -> str | None:
    """Free text as agencies and the public see it: phones, CCCDs, emails and the reporter's name masked."""
    if text is None:
        return None
    return mask_personal_data(text, names=(cmd.reporter.full_name,) if cmd.reporter.full_name else ())


async def _store_new_report(
    pool: asyncpg.Pool,
    vault: PersonalDataVault,
    checked: CheckedReport,
    idempotency_key: str | None,
    digest: bytes,
    correlation_id: str,
    reception: Reception,
    also: AlsoRecord | None,
) -> ReportReceipt:
    cmd = checked.cmd
    report_id = uuid.uuid4()
    reporter_id = uuid.uuid4()
    tracking_code = new_tracking_code()
    tracking_secret = new_tracking_secret()
    now = utc_now()
    # An emergency is received at once, 24/7; everything else when the office next opens.
    received_at = now if checked.emergency else reception.calendar.reception_time(now)
    receipt = ReportReceipt(
        id=report_id,
        tracking_code=tracking_code,
        tracking_secret=tracking_secret,
        status=ReportStatus.SUBMITTED,
        status_label=ReportStatus.SUBMITTED.label,
        submitted_at=now,
        received_at=received_at,
    )
    assert cmd.title is not None  # noqa: S101 - checked
    assert cmd.content is not None  # noqa: S101 - checked
    title, content, address_text = (
        masked(cmd.title, cmd),
        masked(cmd.content, cmd),
        masked(cmd.location.address_text, cmd),
    )
    # An emailed report's sender gets no HTTP answer, an Open311 reporter only the integrator's: their tracking
    # secret travels, sealed, to notify's reception email.
    secret_for_reply = tracking_secret if checked.channel in WITHOUT_RECEIPT else None
    contact_sealed = seal_contact(cmd, report_id, vault.notify_public_key, secret_for_reply)
    event = Envelope.of(
        report_submitted(
            cmd, checked, report_id, tracking_code, now, received_at, (title, content, address_text), contact_sealed
        ),
        PRODUCER,
        correlation_id,
    )
    channels = notification_channels(cmd)
    sealed = vault.seal_reporter(reporter_id, cmd)
    async with pool.acquire() as conn, conn.transaction():
        if sealed["phone_bidx"] is not None and checked.channel in SELF_SERVICE:
            sent = await repository.recent_submissions_by_phone(conn, sealed["phone_bidx"], now - timedelta(hours=1))
            if sent >= reception.per_phone_per_hour:
                raise TooManySubmissions(retry_after=3600)
        await repository.insert_submission(
            conn,
            reporter_id,
            sealed,
            {
                "id": report_id,
                "tracking_code": tracking_code,
                "tracking_secret_hash": hash_secret(tracking_secret),
                "channel": cmd.channel.value,
                "title": title,
                "category": checked.category,
                "content": content,
                "ward_code": checked.ward_code,
                "area_code": checked.area_code,
                "address_text": address_text,
                "lat": cmd.location.lat,
                "lon": cmd.location.lon,
                "occurred_at": cmd.occurred_at,
                "is_public": cmd.public,
                "anonymous": cmd.anonymous,
                "consent_use": cmd.consent.use_personal_data,
                "consent_publish": cmd.consent.publish,
                "media_ids": cmd.media_ids,
                "status": ReportStatus.SUBMITTED.value,
                "submitted_at": now,
                "received_at": received_at,
                "updated_at": now,
                "original_enc": vault.seal_original(
                    report_id,
                    {"title": cmd.title, "content": cmd.content, "address_text": cmd.location.address_text},
                ),
                "search_text": fold(f"{title} {content} {address_text or ''}"),
                # NULL: no address for the channel, so the reporter cannot turn it on later
                "notify_email": channels.email if cmd.reporter.email is not None else None,
                "notify_sms": channels.sms if cmd.reporter.phone is not None else None,
                "notify_push": channels.push if cmd.device_token is not None else None,
                "emergency": checked.emergency,
                "operator_id": checked.operator_id,
                "missing": list(checked.missing),
            },
        )
        if idempotency_key is not None:
            sealed_receipt = vault.cipher.encrypt(receipt.model_dump_json(), _receipt_aad(idempotency_key))
            if not await repository.claim_idempotency_key(conn, idempotency_key, digest, report_id, sealed_receipt):
                raise _KeyTaken
        if also is not None:
            await also(conn, report_id)
        await outbox.add(conn, topics.REPORT_SUBMITTED, event, key=str(report_id))
    log.info(
        "report_submitted",
        report_id=str(report_id),
        channel=cmd.channel.value,
        category=checked.category,
        emergency=checked.emergency,
        missing=list(checked.missing),
    )
    return receipt


async def apply_status_change(
    event: Event[ReportStatusChangedV1], conn: asyncpg.Connection, vault: PersonalDataVault
) -> None:
    """report.status_changed -> the tracking read model (runs inside the consumer's inbox transaction).

    The status moves only forward in sequence; an older change that arrives late joins the timeline at its
    place but leaves the current status alone. The agency's message (the answer, a question, a reason) is
    masked again here: intake shows it to the public, whoever produced it.
    """
    change = event.data
    current = await repository.lock_report_sequence(conn, change.report_id)
    if current is None:
        # Not ours (another tenant's intake) or a bug upstream: raising sends it to the DLQ for a person to see.
        raise LookupError("status change for an unknown report")
    if change.sequence > current:
        await repository.set_status(
            conn,
            change.report_id,
            change.status,
            change.sequence,
            change.agency_code,
            change.agency_name,
            change.due_at,
        )
    else:
        log.info("late_status_change_kept_in_timeline", report_id=str(change.report_id), sequence=change.sequence)
    names = await reporter_names(conn, vault, change.report_id) if change.message or change.note else ()
    message = mask_personal_data(change.message, names) if change.message else None
    if change.status == ReportStatus.ANSWERED and message and change.sequence > current:
        await repository.set_answer(
            conn,
            change.report_id,
            message,
            change.media_ids,
            change.agency_code,
            change.agency_name,
            change.changed_at,
            fold(message),
        )
    if change.status == ReportStatus.NEEDS_INFO and message:
        await repository.add_information_request(conn, change.report_id, change.sequence, message, change.changed_at)
    await repository.add_timeline(
        conn,
        change.report_id,
        change.status,
        change.sequence,
        change.changed_at,
        change.agency_code,
        change.agency_name,
        _timeline_note(change, message, names),
    )
    log.info("report_status_changed", report_id=str(change.report_id), status=change.status.value)


def _timeline_note(change: ReportStatusChangedV1, message: str | None, names: tuple[str, ...]) -> str | None:
    """The timeline shows a rejection's reason; an answer and a question have their own places on the page."""
    if change.status == ReportStatus.REJECTED and message:
        return message
    return mask_personal_data(change.note, names) if change.note else None


async def reporter_names(conn: asyncpg.Connection, vault: PersonalDataVault, report_id: uuid.UUID) -> tuple[str, ...]:
    """The reporter's name, to mask it in texts others wrote (an answer that greets them by name)."""
    row = await repository.reporter_of(conn, report_id)
    if row is None or row["full_name_enc"] is None:
        return ()
    return (vault.cipher.decrypt(row["full_name_enc"], f"reporters.full_name:{row['id']}"),)
