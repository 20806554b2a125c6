"""All of routing's SQL."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from routing.domain import OPEN, Actor, Agency, Assignment, AssignmentView


async def find_agency(conn: asyncpg.Connection, code: str) -> Agency | None:
    row = await conn.fetchrow("SELECT code, name, email FROM agencies WHERE code = $1", code)
    return None if row is None else Agency(**dict(row))


async def list_agencies(conn: asyncpg.Connection) -> list[Agency]:
    rows = await conn.fetch(
        "SELECT code, name, email FROM agencies WHERE now() >= valid_from AND now() < valid_to ORDER BY code"
    )
    return [Agency(**dict(r)) for r in rows]


async def assignments_of(conn: asyncpg.Connection, agency_code: str, limit: int) -> list[AssignmentView]:
    rows = await conn.fetch(
        "SELECT report_id, category, ward_code, title, triage, status, assigned_at, due_at FROM assignments "
        "WHERE agency_code = $1 ORDER BY assigned_at DESC LIMIT $2",
        agency_code,
        limit,
    )
    return [AssignmentView(**dict(r)) for r in rows]


_ASSIGNMENT_COLUMNS = (
    "report_id, tracking_code, agency_code, co_agencies, category, ward_code, area_code, title, content, "
    "address_text, public, anonymous, identity_shared, emergency, triage, status, status_sequence, received_at, "
    "assigned_at, accepted_at, due_at, paused_at, extension_days, extension_reason, extension_state, overdue_at, "
    "answer_text, answer_media_ids, answered_at, reject_reason_code, merged_into, returned_by, reopen_count, "
    "updated_at, media_ids"
)

# The columns a use case may change (update_assignment builds its SET from these names only).
_MUTABLE = frozenset(
    {"agency_code", "co_agencies", "triage", "status", "status_sequence", "assigned_at", "accepted_at", "due_at",
     "paused_at", "extension_days", "extension_reason", "extension_state", "overdue_at", "due_soon_sent_at",
     "answer_text", "answer_media_ids", "answered_at", "reject_reason_code", "merged_into", "returned_by",
     "reopen_count"}
)  # fmt: skip


async def create_assignment(conn: asyncpg.Connection, row: dict[str, Any]) -> bool:
    """False when the report was already assigned (a replayed event). Column names come from our own code."""
    columns = list(row)
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    inserted = await conn.fetchval(
        f"INSERT INTO assignments ({', '.join(columns)}) VALUES ({placeholders}) "
        "ON CONFLICT (report_id) DO NOTHING RETURNING true",
        *row.values(),
    )
    return bool(inserted)


async def get_assignment(conn: asyncpg.Connection, report_id: uuid.UUID, for_update: bool = False) -> Assignment | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_ASSIGNMENT_COLUMNS} FROM assignments WHERE report_id = $1{lock}", report_id)
    return None if row is None else Assignment.model_validate(dict(row))


async def update_assignment(conn: asyncpg.Connection, report_id: uuid.UUID, changes: dict[str, Any]) -> None:
    unknown = set(changes) - _MUTABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    names = list(changes)
    sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=2))
    await conn.execute(
        f"UPDATE assignments SET {sets}, updated_at = now() WHERE report_id = $1",
        report_id,
        *changes.values(),
    )


async def add_history(
    conn: asyncpg.Connection,
    report_id: uuid.UUID,
    sequence: int,
    action: str,
    status: str,
    agency_code: str | None,
    actor: Actor,
    note: str | None,
    at: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO assignment_history "
        "(report_id, sequence, action, status, agency_code, actor, actor_role, note, at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        report_id,
        sequence,
        action,
        status,
        agency_code,
        actor.subject,
        actor.role,
        note,
        at,
    )


async def history(conn: asyncpg.Connection, report_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT sequence, action, status, agency_code, actor_role, note, at FROM assignment_history "
            "WHERE report_id = $1 ORDER BY id",
            report_id,
        )
    )


async def add_contribution(
    conn: asyncpg.Connection, report_id: uuid.UUID, agency_code: str, author: str, text: str, at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO contributions (report_id, agency_code, author, text, at) VALUES ($1, $2, $3, $4, $5)",
        report_id,
        agency_code,
        author,
        text,
        at,
    )


async def contributions(conn: asyncpg.Connection, report_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(
        await conn.fetch("SELECT agency_code, text, at FROM contributions WHERE report_id = $1 ORDER BY id", report_id)
    )


async def add_return(
    conn: asyncpg.Connection, report_id: uuid.UUID, agency_code: str, reason: str, at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO returns (report_id, agency_code, reason, at) VALUES ($1, $2, $3, $4)",
        report_id,
        agency_code,
        reason,
        at,
    )


async def merged_into(conn: asyncpg.Connection, report_id: uuid.UUID) -> list[uuid.UUID]:
    """The open reports merged into this one (they get its answer)."""
    rows = await conn.fetch(
        "SELECT report_id FROM assignments WHERE merged_into = $1 AND status = ANY($2::text[]) ORDER BY assigned_at",
        report_id,
        [s.value for s in OPEN],
    )
    return [r["report_id"] for r in rows]


async def work_queue(
    conn: asyncpg.Connection,
    agency: str | None,
    statuses: list[str] | None,
    overdue: bool | None,
    category: str | None,
    ward_code: str | None,
    triage: bool | None,
    limit: int,
    offset: int,
) -> tuple[list[Assignment], int]:
    """Reports an agency leads or helps with (every agency's when `agency` is None), newest deadline last."""
    clauses, args = ["TRUE"], []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if agency is not None:
        a = arg(agency)
        clauses.append(f"(agency_code = {a} OR {a} = ANY(co_agencies))")
    if statuses:
        clauses.append(f"status = ANY({arg(statuses)}::text[])")
    if overdue is True:
        clauses.append("overdue_at IS NOT NULL AND status = ANY(" + arg([s.value for s in OPEN]) + "::text[])")
    elif overdue is False:
        clauses.append("overdue_at IS NULL")
    if category:
        clauses.append(f"category = {arg(category)}")
    if ward_code:
        clauses.append(f"ward_code = {arg(ward_code)}")
    if triage is not None:
        clauses.append(f"triage = {arg(triage)}")
    where = " AND ".join(clauses)
    total: int = await conn.fetchval(f"SELECT count(*) FROM assignments WHERE {where}", *args)
    rows = await conn.fetch(
        f"SELECT {_ASSIGNMENT_COLUMNS} FROM assignments WHERE {where} "
        f"ORDER BY due_at, report_id LIMIT {arg(limit)} OFFSET {arg(offset)}",
        *args,
    )
    return [Assignment.model_validate(dict(r)) for r in rows], total


async def deadline_candidates(conn: asyncpg.Connection, horizon: datetime, limit: int) -> list[Assignment]:
    """Open reports whose deadline runs and falls before `horizon`, not yet marked overdue."""
    rows = await conn.fetch(
        f"SELECT {_ASSIGNMENT_COLUMNS} FROM assignments "
        "WHERE status IN ('assigned', 'in_progress', 'reopened') AND overdue_at IS NULL AND due_at <= $1 "
        "ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        horizon,
        limit,
    )
    return [Assignment.model_validate(dict(r)) for r in rows]


async def due_soon_sent(conn: asyncpg.Connection, report_id: uuid.UUID) -> bool:
    sent: bool = await conn.fetchval(
        "SELECT due_soon_sent_at IS NOT NULL FROM assignments WHERE report_id = $1", report_id
    )
    return sent


async def led_by_expired_agencies(conn: asyncpg.Connection, at: datetime, limit: int) -> list[Assignment]:
    """Open reports whose lead agency is no longer valid (an administrative merger closed it)."""
    rows = await conn.fetch(
        f"SELECT {', '.join('a.' + c.strip() for c in _ASSIGNMENT_COLUMNS.split(','))} "
        "FROM assignments a JOIN agencies g ON g.code = a.agency_code "
        "WHERE a.status = ANY($1::text[]) AND g.valid_to <= $2 ORDER BY a.assigned_at LIMIT $3 "
        "FOR UPDATE OF a SKIP LOCKED",
        [s.value for s in OPEN],
        at,
        limit,
    )
    return [Assignment.model_validate(dict(r)) for r in rows]


async def agency_load(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Per agency: open reports, overdue ones, answered ones and of those on time, returns."""
    return list(
        await conn.fetch(
            "SELECT g.code, g.name, "
            "count(a.*) FILTER (WHERE a.status = ANY($1::text[])) AS open, "
            "count(a.*) FILTER (WHERE a.status = ANY($1::text[]) AND a.overdue_at IS NOT NULL) AS overdue, "
            "count(a.*) FILTER (WHERE a.answered_at IS NOT NULL) AS answered, "
            "count(a.*) FILTER (WHERE a.answered_at IS NOT NULL AND a.answered_at <= a.due_at) AS answered_on_time, "
            "(SELECT count(*) FROM returns r WHERE r.agency_code = g.code) AS returns "
            "FROM agencies g LEFT JOIN assignments a ON a.agency_code = g.code "
            "GROUP BY g.code, g.name HAVING count(a.*) > 0 OR (SELECT count(*) FROM returns r "
            "WHERE r.agency_code = g.code) > 0 ORDER BY overdue DESC, open DESC, g.code",
            [s.value for s in OPEN],
        )
    )
