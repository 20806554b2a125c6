"""All of the staff accounts' SQL. Every function takes the caller's connection (and its transaction)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from routing.account_models import StaffAccount

COLUMNS = (
    "id, username, display_name, password_hash, role, agency_code, disabled, failed_logins, locked_until, "
    "oidc_subject, created_at, updated_at"
)
# What an admin may change; update_account builds its SET clause from these names only.
UPDATABLE = frozenset({"display_name", "password_hash", "role", "agency_code", "disabled", "oidc_subject"})
# Unique constraints PostgreSQL names after their table and column (see 0004_staff_accounts.sql).
USERNAME_CONSTRAINT = "staff_accounts_username_key"
OIDC_SUBJECT_CONSTRAINT = "staff_accounts_oidc_subject_key"


def _account(row: asyncpg.Record | None) -> StaffAccount | None:
    return None if row is None else StaffAccount(**dict(row))


async def find_by_username(conn: asyncpg.Connection, username: str) -> StaffAccount | None:
    return _account(await conn.fetchrow(f"SELECT {COLUMNS} FROM staff_accounts WHERE username = $1", username))


async def find_by_oidc_subject(conn: asyncpg.Connection, subject: str) -> StaffAccount | None:
    return _account(await conn.fetchrow(f"SELECT {COLUMNS} FROM staff_accounts WHERE oidc_subject = $1", subject))


async def find_by_id(
    conn: asyncpg.Connection, account_id: uuid.UUID, *, for_update: bool = False
) -> StaffAccount | None:
    lock = " FOR UPDATE" if for_update else ""
    return _account(await conn.fetchrow(f"SELECT {COLUMNS} FROM staff_accounts WHERE id = $1{lock}", account_id))


async def list_accounts(conn: asyncpg.Connection) -> list[StaffAccount]:
    rows = await conn.fetch(f"SELECT {COLUMNS} FROM staff_accounts ORDER BY username")
    return [StaffAccount(**dict(r)) for r in rows]


async def agency_exists(conn: asyncpg.Connection, code: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM agencies WHERE code = $1", code))


async def insert_account(
    conn: asyncpg.Connection,
    username: str,
    display_name: str,
    password_hash: str | None,
    role: str,
    agency_code: str | None,
    oidc_subject: str | None,
) -> StaffAccount:
    """Raises asyncpg.UniqueViolationError (USERNAME_CONSTRAINT, OIDC_SUBJECT_CONSTRAINT) on a duplicate."""
    row = await conn.fetchrow(
        "INSERT INTO staff_accounts (username, display_name, password_hash, role, agency_code, oidc_subject) "
        f"VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}",
        username,
        display_name,
        password_hash,
        role,
        agency_code,
        oidc_subject,
    )
    return StaffAccount(**dict(row))


async def update_account(
    conn: asyncpg.Connection, account_id: uuid.UUID, changes: dict[str, Any], *, unlock: bool = False
) -> StaffAccount:
    """Sets the given columns (names from UPDATABLE only); `unlock` also clears the failed-login count."""
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    names = sorted(changes)
    assignments = [f"{name} = ${i}" for i, name in enumerate(names, start=2)]
    if unlock:
        assignments += ["failed_logins = 0", "locked_until = NULL"]
    row = await conn.fetchrow(
        f"UPDATE staff_accounts SET {', '.join(assignments)}, updated_at = now() WHERE id = $1 RETURNING {COLUMNS}",
        account_id,
        *(changes[name] for name in names),
    )
    return StaffAccount(**dict(row))


async def claim_login_attempt(
    conn: asyncpg.Connection, account_id: uuid.UUID, max_failures: int, lock_minutes: int
) -> bool:
    """Counts a login attempt as failed before its password is checked, locking the account when the count
    reaches `max_failures`; a success then undoes both (record_login_success). False: the account is locked.

    Counting first is what makes the limit exact: parallel guesses each need their own claim, and the claim
    that reaches the limit locks out every later one even while its own password is still being checked.
    """
    claimed = await conn.fetchval(
        "UPDATE staff_accounts SET failed_logins = failed_logins + 1, "
        "locked_until = CASE WHEN failed_logins + 1 >= $2 THEN now() + make_interval(mins => $3) "
        "ELSE locked_until END "
        "WHERE id = $1 AND (locked_until IS NULL OR locked_until <= now()) RETURNING true",
        account_id,
        max_failures,
        lock_minutes,
    )
    return bool(claimed)


async def locked_until(conn: asyncpg.Connection, account_id: uuid.UUID) -> datetime | None:
    value: datetime | None = await conn.fetchval("SELECT locked_until FROM staff_accounts WHERE id = $1", account_id)
    return value


async def record_login_success(
    conn: asyncpg.Connection, account_id: uuid.UUID, old_hash: str, new_hash: str | None
) -> None:
    """Resets the failure count and lock; stores `new_hash` (the same password under today's argon2
    parameters) unless an admin has set another password since this login read `old_hash`."""
    await conn.execute(
        "UPDATE staff_accounts SET failed_logins = 0, locked_until = NULL, "
        "password_hash = CASE WHEN $3::text IS NOT NULL AND password_hash = $2 THEN $3 ELSE password_hash END "
        "WHERE id = $1",
        account_id,
        old_hash,
        new_hash,
    )
