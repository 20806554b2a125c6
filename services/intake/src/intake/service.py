"""Intake use cases: submit a report, apply a status change, show a report to its reporter."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

import asyncpg
import structlog

from intake import repository
from intake.domain import hash_secret, new_tracking_code, new_tracking_secret, secret_matches
from intake.events import PRODUCER, report_submitted
from intake.models import Named, ReportReceipt, SubmitReport, TimelineEntry, TrackedReport, field_error
from paht_shared import outbox, reference
from paht_shared.contracts import ReportStatus, ReportStatusChangedV1, topics
from paht_shared.contracts.dispatch import Event
from paht_shared.crypto import FieldCipher, blind_index
from paht_shared.envelope import Envelope, utc_now

log = structlog.get_logger("intake.service")


class InvalidReport(Exception):
    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("invalid report")
        self.errors = errors


class IdempotencyKeyReused(Exception):
    """The key was already used for a different request body."""


@dataclass(frozen=True)
class PersonalDataVault:
    cipher: FieldCipher
    blind_index_key: bytes

    def seal_reporter(self, reporter_id: uuid.UUID, cmd: SubmitReport) -> dict[str, bytes | None]:
        r = cmd.reporter
        values = {"full_name": r.full_name, "address": r.address, "cccd": r.cccd, "phone": r.phone, "email": r.email}
        sealed: dict[str, bytes | None] = {
            column: None if value is None else self.cipher.encrypt(str(value), f"reporters.{column}:{reporter_id}")
            for column, value in values.items()
        }
        sealed["phone_bidx"] = blind_index(self.blind_index_key, "phone", r.phone)
        sealed["cccd_bidx"] = blind_index(self.blind_index_key, "cccd", r.cccd) if r.cccd else None
        return sealed


def check_references(cmd: SubmitReport, province_code: int) -> None:
    errors = []
    if reference.category(cmd.category) is None:
        errors.append(field_error("category", "unknown_category"))
    if cmd.location.ward_code.zfill(5) not in reference.wards(province_code):
        errors.append(field_error("location.ward_code", "unknown_ward"))
    if errors:
        raise InvalidReport(errors)


def request_hash(cmd: SubmitReport) -> bytes:
    return hashlib.sha256(cmd.model_dump_json().encode()).digest()


async def submit_report(
    pool: asyncpg.Pool,
    vault: PersonalDataVault,
    cmd: SubmitReport,
    idempotency_key: str | None,
    correlation_id: str,
    province_code: int,
) -> tuple[ReportReceipt, bool]:
    """Store the report, its reporter (encrypted) and its `report.submitted` event in one transaction.

    Returns (receipt, replayed): a retry with the same Idempotency-Key gets the first receipt back.
    """
    check_references(cmd, province_code)
    digest = request_hash(cmd)
    while True:
        if idempotency_key is not None:
            replay = await _replay(pool, vault, idempotency_key, digest)
            if replay is not None:
                return replay, True
        try:
            return await _store_new_report(pool, vault, cmd, idempotency_key, digest, correlation_id), False
        except _KeyTaken:
            continue  # another request with the same key committed first: answer with its result
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name != "reports_tracking_code_key":
                raise
            continue  # a tracking-code collision (1 in 10^12): draw another


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


async def _store_new_report(
    pool: asyncpg.Pool,
    vault: PersonalDataVault,
    cmd: SubmitReport,
    idempotency_key: str | None,
    digest: bytes,
    correlation_id: str,
) -> ReportReceipt:
    report_id = uuid.uuid4()
    reporter_id = uuid.uuid4()
    tracking_code = new_tracking_code()
    tracking_secret = new_tracking_secret()
    now = utc_now()
    receipt = ReportReceipt(
        id=report_id,
        tracking_code=tracking_code,
        tracking_secret=tracking_secret,
        status=ReportStatus.SUBMITTED,
        status_label=ReportStatus.SUBMITTED.label,
        submitted_at=now,
    )
    event = Envelope.of(report_submitted(cmd, report_id, tracking_code, now), PRODUCER, correlation_id)
    async with pool.acquire() as conn, conn.transaction():
        await repository.insert_reporter(conn, reporter_id, vault.seal_reporter(reporter_id, cmd))
        await repository.insert_report(
            conn,
            {
                "id": report_id,
                "tracking_code": tracking_code,
                "tracking_secret_hash": hash_secret(tracking_secret),
                "channel": cmd.channel.value,
                "reporter_id": reporter_id,
                "title": cmd.title,
                "category": cmd.category,
                "content": cmd.content,
                "ward_code": cmd.location.ward_code.zfill(5),
                "address_text": cmd.location.address_text,
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
                "updated_at": now,
            },
        )
        await repository.add_timeline(conn, report_id, ReportStatus.SUBMITTED, 0, now)
        if idempotency_key is not None:
            sealed = vault.cipher.encrypt(receipt.model_dump_json(), _receipt_aad(idempotency_key))
            if not await repository.claim_idempotency_key(conn, idempotency_key, digest, report_id, sealed):
                raise _KeyTaken
        await outbox.add(conn, topics.REPORT_SUBMITTED, event, key=str(report_id))
    log.info("report_submitted", report_id=str(report_id), channel=cmd.channel.value, category=cmd.category)
    return receipt


async def apply_status_change(event: Event[ReportStatusChangedV1], conn: asyncpg.Connection) -> None:
    """report.status_changed -> the tracking read model (runs inside the consumer's inbox transaction).

    The status moves only forward in sequence; an older change that arrives late joins the timeline at its
    place but leaves the current status alone.
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
    await repository.add_timeline(
        conn,
        change.report_id,
        change.status,
        change.sequence,
        change.changed_at,
        change.agency_code,
        change.agency_name,
        change.note,
    )
    log.info("report_status_changed", report_id=str(change.report_id), status=change.status.value)


async def track_report(pool: asyncpg.Pool, tracking_code: str, secret: str) -> TrackedReport | None:
    """What the reporter sees; None when the code is unknown or the secret does not match (same answer)."""
    async with pool.acquire() as conn:
        row = await repository.find_by_tracking_code(conn, tracking_code)
        if row is None or not secret_matches(secret, row["tracking_secret_hash"]):
            return None
        events = await repository.timeline(conn, row["id"])
    category = reference.category(row["category"])
    status = ReportStatus(row["status"])
    return TrackedReport(
        id=row["id"],
        tracking_code=row["tracking_code"],
        title=row["title"],
        category=Named(code=row["category"], name=category.name if category else row["category"]),
        status=status,
        status_label=status.label,
        agency=_agency(row["agency_code"], row["agency_name"]),
        due_at=row["due_at"],
        submitted_at=row["submitted_at"],
        updated_at=row["updated_at"],
        public=row["is_public"],
        anonymous=row["anonymous"],
        timeline=[
            TimelineEntry(
                status=ReportStatus(e["status"]),
                status_label=ReportStatus(e["status"]).label,
                agency=_agency(e["agency_code"], e["agency_name"]),
                note=e["note"],
                at=e["at"],
            )
            for e in events
        ],
    )


def _agency(code: str | None, name: str | None) -> Named | None:
    return Named(code=code, name=name or code) if code else None
