"""Staff's view of who sent a report: only with the reporter's consent, only within the officer's agency, and
every attempt written to the audit log (paht_shared.audit) before anything is shown."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import Enum

import asyncpg
import structlog
from pydantic import BaseModel

from intake import staff_repository
from intake.service import PersonalDataVault
from paht_shared import audit
from paht_shared.auth import EVERY_AGENCY, Identity
from paht_shared.text import mask_personal_data, normalize_text

log = structlog.get_logger("intake.staff")

REASON_LENGTH = (10, 500)
SUBJECT = "reporter"  # what these audit rows are about: the reporter's identity
# Failures of the audit append: without its row nothing may be shown.
_AUDIT_FAILURES = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


class InvalidReason(Exception):
    """No reason given, or one outside REASON_LENGTH."""


class ReportNotFound(Exception):
    """Unknown report, or one outside the officer's agency: one answer for both, so nothing is revealed."""


class IdentityNotShared(Exception):
    """The reporter is anonymous or did not consent to agencies seeing who they are."""


class AuditUnavailable(Exception):
    """The audit row could not be written, so nothing was shown."""


class Reporter(BaseModel):
    full_name: str | None
    address: str | None
    cccd: str | None
    phone: str | None  # E.164, as stored
    email: str | None


class ReporterView(BaseModel):
    report_id: uuid.UUID
    tracking_code: str
    reporter: Reporter


class Access(Enum):
    """What a staff member may see of a report's reporter."""

    SHOWN = "shown"
    NOT_SHARED = "not_shared"
    OUT_OF_SCOPE = "out_of_scope"


# The audit action recording each outcome.
ACTIONS = {
    Access.SHOWN: "identity_viewed",
    Access.NOT_SHARED: "identity_refused",
    Access.OUT_OF_SCOPE: "identity_out_of_scope",
}


@dataclass(frozen=True)
class ReportFacts:
    """What decides access: whose case the report is now and what the reporter agreed to."""

    agency_code: str | None  # the agency currently responsible (None until routing assigned one)
    anonymous: bool
    consent_use: bool


def stated_reason(raw: str | None) -> str:
    """The reason as kept: NFC, no control characters, one line, trimmed; REASON_LENGTH characters."""
    reason = " ".join(normalize_text(raw or "").split())
    low, high = REASON_LENGTH
    if not low <= len(reason) <= high:
        raise InvalidReason
    return reason


def decide(staff: Identity, report: ReportFacts) -> Access:
    """Scope before consent: a refusal for lack of consent would confirm the report exists to an outsider.
    A report no agency holds yet is for coordinators and admins only."""
    in_scope = staff.role in EVERY_AGENCY or (report.agency_code is not None and staff.sees_agency(report.agency_code))
    if not in_scope:
        return Access.OUT_OF_SCOPE
    if report.anonymous or not report.consent_use:
        return Access.NOT_SHARED
    return Access.SHOWN


async def view_reporter(
    pool: asyncpg.Pool, vault: PersonalDataVault, staff: Identity, report_id: uuid.UUID, reason: str
) -> ReporterView:
    """The reporter's identity for `staff`, audited with `reason` in the same transaction.

    The answer is returned only after that transaction committed: if the audit row cannot be written,
    nothing is shown. Refusals are audited too. Raises ReportNotFound, IdentityNotShared or AuditUnavailable.
    """
    access: Access | None = None
    view: ReporterView | None = None
    async with pool.acquire() as conn, conn.transaction():
        row = await staff_repository.report_with_reporter(conn, report_id)
        if row is not None:
            access = decide(staff, ReportFacts(row["agency_code"], row["anonymous"], row["consent_use"]))
            entry = _entry(staff, ACTIONS[access], report_id, _masked(vault, row, reason))
            if access is Access.OUT_OF_SCOPE:
                await _audit_out_of_scope(conn, entry)
            else:
                await audit_or_refuse(conn, entry)
            if access is Access.SHOWN:
                view = _open(vault, row)
    if view is not None:
        log.info("identity_viewed", report_id=str(report_id), actor=staff.subject)
        return view
    if access is Access.NOT_SHARED:
        log.info("identity_refused", report_id=str(report_id), actor=staff.subject)
        raise IdentityNotShared
    log.info("identity_not_found", report_id=str(report_id), actor=staff.subject, out_of_scope=access is not None)
    raise ReportNotFound


def _entry(staff: Identity, action: str, report_id: uuid.UUID, reason: str) -> audit.AuditEntry:
    return audit.AuditEntry(
        actor=staff.subject,
        actor_role=staff.role.value,
        action=action,
        actor_agency=staff.agency,
        report_id=report_id,
        subject=SUBJECT,
        reason=reason,
    )


async def audit_or_refuse(conn: asyncpg.Connection, entry: audit.AuditEntry) -> None:
    """Append `entry`, or AuditUnavailable: whatever the entry is about must then not be shown."""
    try:
        await audit.append(conn, entry)
    except _AUDIT_FAILURES as exc:
        log.warning("audit_append_failed", report_id=str(entry.report_id), error=type(exc).__name__)
        raise AuditUnavailable from exc


async def _audit_out_of_scope(conn: asyncpg.Connection, entry: audit.AuditEntry) -> None:
    """Record an officer asking for another agency's reporter. In a savepoint, and a failure is only logged:
    a 503 here instead of the 404 would tell the officer that the report exists."""
    try:
        async with conn.transaction():
            await audit.append(conn, entry)
    except _AUDIT_FAILURES as exc:
        log.warning("audit_append_failed", report_id=str(entry.report_id), error=type(exc).__name__)


def _masked(vault: PersonalDataVault, row: asyncpg.Record, reason: str) -> str:
    """The reason without phones, CCCDs, emails or the reporter's name: the audit log can never be erased."""
    name = _decrypt(vault, row, "full_name")
    return mask_personal_data(reason, () if name is None else (name,))


def _decrypt(vault: PersonalDataVault, row: asyncpg.Record, column: str) -> str | None:
    sealed = row[f"{column}_enc"]
    if sealed is None:
        return None
    return vault.cipher.decrypt(sealed, f"reporters.{column}:{row['reporter_id']}")


def _open(vault: PersonalDataVault, row: asyncpg.Record) -> ReporterView:
    return ReporterView(
        report_id=row["id"],
        tracking_code=row["tracking_code"],
        reporter=Reporter(
            full_name=_decrypt(vault, row, "full_name"),
            address=_decrypt(vault, row, "address"),
            cccd=_decrypt(vault, row, "cccd"),
            phone=_decrypt(vault, row, "phone"),
            email=_decrypt(vault, row, "email"),
        ),
    )
