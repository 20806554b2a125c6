"""Append-only, hash-chained audit log: who saw or did what to a citizen's data, and why.

A trigger refuses UPDATE, DELETE and TRUNCATE of `audit_log` (migration 0004) for every role, but a superuser
or the table's owner can disable it. The chain is what catches that: each row stores the previous row's hash
and its own, `sha256(prev_hash || canonical JSON of the row)`, so `verify` names the first row that was
changed, forged or removed. Removing the newest rows leaves a shorter chain that still verifies: compare
`AuditCheck.head_hash` with a copy kept elsewhere (the operator's notes, another system) to catch that.

The canonical JSON, for anyone verifying without this module: an object with the keys id, at, actor,
actor_role, actor_agency, action, report_id, subject, reason; keys sorted, separators "," and ":", UTF-8
without escapes; `at` in UTC as `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`, `report_id` as the lower-case hyphenated
UUID, absent values as null. The first row's prev_hash is 32 zero bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

GENESIS = bytes(32)  # the prev_hash of the first row
# Advisory lock (key space, schema): one append at a time per schema, so every row links to the one before it.
# The two-key form never collides with the single-key locks the migrator takes.
LOCK_SPACE = zlib.crc32(b"paht-audit-log") & 0x7FFFFFFF
VERIFY_BATCH = 1000  # rows fetched per round trip while verifying

_COLUMNS = "id, at, actor, actor_role, actor_agency, action, report_id, subject, reason"


@dataclass(frozen=True)
class AuditEntry:
    """One thing a staff member (or a process) did, as the audit log keeps it.

    Never personal data: the log cannot be corrected or erased, so it holds only ids (the actor's login, the
    report's id), roles, agency and action codes, and the staff member's stated reason (which callers mask).
    """

    actor: str  # the token's subject: the staff member's login, or a process name
    actor_role: str
    action: str  # what happened, a code such as "identity_viewed"
    actor_agency: str | None = None
    report_id: uuid.UUID | None = None
    subject: str | None = None  # what the action was about, a code such as "reporter"
    reason: str | None = None  # why, as the staff member stated it


@dataclass(frozen=True)
class AuditCheck:
    """The result of `verify`.

    `reason`: "hash mismatch" (the row's content is not what was hashed: changed after it was written),
    "gap" (the row does not link to the one before and ids are missing in between: rows were removed) or
    "broken link" (it does not link to the one before although no id is missing: a row was replaced).
    """

    rows: int  # rows checked, the broken one included
    first_broken_id: int | None = None
    reason: str | None = None
    head_id: int | None = None  # the last row of an intact chain, and its hash: note them to detect truncation
    head_hash: bytes | None = None

    @property
    def ok(self) -> bool:
        return self.first_broken_id is None


def _canonical(row: dict[str, Any]) -> bytes:
    at: datetime = row["at"]
    report_id: uuid.UUID | None = row["report_id"]
    fields = {
        "id": row["id"],
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": row["actor"],
        "actor_role": row["actor_role"],
        "actor_agency": row["actor_agency"],
        "action": row["action"],
        "report_id": None if report_id is None else str(report_id),
        "subject": row["subject"],
        "reason": row["reason"],
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def row_hash(prev_hash: bytes, row: dict[str, Any]) -> bytes:
    """The hash a row must carry: sha256 of the previous row's hash followed by the row's canonical JSON."""
    return hashlib.sha256(prev_hash + _canonical(row)).digest()


async def append(conn: asyncpg.Connection, entry: AuditEntry) -> int:
    """Append `entry` in the caller's open transaction (it commits or rolls back with what it records);
    returns the row's id.

    The lock is held until that transaction ends, so keep it short: appends of one schema queue behind it.
    """
    if not conn.is_in_transaction():
        raise RuntimeError("audit.append must run inside the transaction of what it records")
    isolation = await conn.fetchval(
        "SELECT current_setting('transaction_isolation') FROM pg_advisory_xact_lock($1, hashtext(current_schema()))",
        LOCK_SPACE,
    )
    if isolation != "read committed":
        # A snapshot taken before the lock was granted would not see the last append: the new row would fork
        # the chain (the unique prev_hash refuses it, but only at insert, after the caller's work).
        raise RuntimeError(f"audit.append needs a READ COMMITTED transaction, not {isolation}")
    # Read after the lock: the statement's snapshot includes every append committed before ours. The id is
    # drawn here too (not by the column default) because it is part of what is hashed; an append that rolls
    # back leaves an unused id behind, which is why verify tells a gap from a broken link by the hashes.
    head = await conn.fetchrow(
        "SELECT nextval(pg_get_serial_sequence('audit_log', 'id')) AS id, clock_timestamp() AS at, "
        "(SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1) AS prev_hash"
    )
    prev_hash = GENESIS if head["prev_hash"] is None else bytes(head["prev_hash"])
    row = {
        "id": head["id"],
        # timestamptz keeps microseconds, as does datetime: what is hashed is exactly what is read back
        "at": head["at"],
        "actor": entry.actor,
        "actor_role": entry.actor_role,
        "actor_agency": entry.actor_agency,
        "action": entry.action,
        "report_id": entry.report_id,
        "subject": entry.subject,
        "reason": entry.reason,
    }
    await conn.execute(
        f"INSERT INTO audit_log ({_COLUMNS}, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        *row.values(),
        prev_hash,
        row_hash(prev_hash, row),
    )
    entry_id: int = head["id"]
    return entry_id


@contextlib.asynccontextmanager
async def _snapshot(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """One consistent view of the whole log (a cursor needs a transaction anyway); the caller's, if open."""
    if conn.is_in_transaction():
        yield
        return
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        yield


async def verify(conn: asyncpg.Connection) -> AuditCheck:
    """Recompute the chain in id order, streaming the rows; stops at the first broken row."""
    rows = 0
    prev_id: int | None = None
    prev_hash = GENESIS
    async with _snapshot(conn):
        cursor = conn.cursor(f"SELECT {_COLUMNS}, prev_hash, hash FROM audit_log ORDER BY id", prefetch=VERIFY_BATCH)
        async for record in cursor:
            rows += 1
            row = dict(record)
            if row_hash(bytes(row["prev_hash"]), row) != bytes(row["hash"]):
                return AuditCheck(rows, row["id"], "hash mismatch")
            if bytes(row["prev_hash"]) != prev_hash:
                # Ids skipped by appends that rolled back are harmless (the link is intact); missing ids at a
                # broken link mean rows were removed there.
                missing = row["id"] != (1 if prev_id is None else prev_id + 1)
                return AuditCheck(rows, row["id"], "gap" if missing else "broken link")
            prev_id, prev_hash = row["id"], bytes(row["hash"])
    return AuditCheck(rows, head_id=prev_id, head_hash=None if prev_id is None else prev_hash)
