"""Hotline 1022: an operator enters a caller's report, and looks up a caller's earlier reports by phone.

The operator types what the caller says (the caller's identity as given, the report fields) and may flag the
call as an emergency (khẩn cấp): only this channel can, and an emergency counts as received at once, 24/7,
instead of when the reception desk next opens. The operator's id is kept on the report and in its event.

A caller lookup goes through the phone's blind index, never the number, and every lookup is written to the
append-only audit log (who, when, why) before anything is shown: no audit row, no answer.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime

import asyncpg
import structlog
from pydantic import BaseModel

from intake import service, staff, staff_repository
from intake.domain import normalize_phone
from intake.models import OperatorReport, ReportReceipt
from intake.service import PersonalDataVault, Reception
from intake.validation import CheckedReport
from paht_shared import audit
from paht_shared.auth import Identity
from paht_shared.contracts import ReportStatus
from paht_shared.text import mask_personal_data

log = structlog.get_logger("intake.hotline")

LOOKUP_ACTION = "caller_lookup"
LOOKUP_LIMIT = 50  # the newest reports; a caller with more is a case for the coordinator, not the phone call


class InvalidPhone(Exception):
    """The number looked up is not a Vietnamese phone number."""


class CallReceipt(ReportReceipt):
    """What the operator reads back to the caller: the tracking code and secret, and when it counts as received."""

    emergency: bool


class CallerReport(BaseModel):
    """One of a caller's earlier reports as an operator sees it: masked text, no personal data."""

    id: uuid.UUID
    tracking_code: str
    title: str
    category: str
    channel: str
    status: ReportStatus
    status_label: str
    emergency: bool
    agency_name: str | None
    submitted_at: datetime


class CallerHistory(BaseModel):
    reports: list[CallerReport]


def idempotency_key(operator: Identity, key: str | None) -> str | None:
    """Keys are the operator's own: one operator's retry never collides with a citizen's or a colleague's key."""
    return None if key is None else f"hotline:{operator.subject}:{key}"


async def submit_call(
    pool: asyncpg.Pool,
    vault: PersonalDataVault,
    checked: CheckedReport,
    operator: Identity,
    key: str | None,
    correlation_id: str,
    reception: Reception,
) -> tuple[CallReceipt, bool]:
    """Store the caller's report like any other (one transaction with its event); returns (receipt, replayed)."""
    assert isinstance(checked.cmd, OperatorReport)  # noqa: S101 - the handler checked with this model
    emergency = checked.cmd.emergency
    call = dataclasses.replace(checked, emergency=emergency, operator_id=operator.subject)
    receipt, replayed = await service.submit_report(
        pool, vault, call, idempotency_key(operator, key), correlation_id, reception
    )
    if emergency and not replayed:
        log.warning("emergency_report_received", report_id=str(receipt.id), operator=operator.subject)
    return CallReceipt(**receipt.model_dump(), emergency=emergency), replayed


async def caller_history(
    pool: asyncpg.Pool, vault: PersonalDataVault, operator: Identity, phone: str, reason: str
) -> CallerHistory:
    """The caller's earlier (not anonymous) reports, newest first, after the audit row for this lookup.

    The audit row names the caller only by a prefix of the phone's blind index: who looked up the same
    caller can be found later, and the log (which can never be erased) holds no phone number."""
    number = normalize_phone(phone)
    if number is None:
        raise InvalidPhone
    phone_bidx = vault.phone_index(number)
    entry = audit.AuditEntry(
        actor=operator.subject,
        actor_role=operator.role.value,
        action=LOOKUP_ACTION,
        actor_agency=operator.agency,
        subject=f"caller:{phone_bidx.hex()[:16]}",
        reason=mask_personal_data(reason),
    )
    async with pool.acquire() as conn, conn.transaction():
        await staff.audit_or_refuse(conn, entry)
        rows = await staff_repository.reports_by_phone(conn, phone_bidx, LOOKUP_LIMIT)
    log.info("caller_lookup", actor=operator.subject, found=len(rows))
    return CallerHistory(
        reports=[
            CallerReport(
                id=row["id"],
                tracking_code=row["tracking_code"],
                title=row["title"],
                category=row["category"],
                channel=row["channel"],
                status=ReportStatus(row["status"]),
                status_label=ReportStatus(row["status"]).label,
                emergency=row["emergency"],
                agency_name=row["agency_name"],
                submitted_at=row["submitted_at"],
            )
            for row in rows
        ]
    )
