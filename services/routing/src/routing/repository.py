"""All of routing's SQL."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from routing.domain import Agency, AssignmentView


async def upsert_agency(conn: asyncpg.Connection, code: str, name: str, email: str | None) -> None:
    await conn.execute(
        "INSERT INTO agencies (code, name, email) VALUES ($1, $2, $3) "
        "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email, updated_at = now()",
        code,
        name,
        email,
    )


async def replace_rules(conn: asyncpg.Connection, rules: list[tuple[str, str | None, str]]) -> None:
    await conn.execute("DELETE FROM routing_rules")
    await conn.executemany("INSERT INTO routing_rules (category, ward_code, agency_code) VALUES ($1, $2, $3)", rules)


async def replace_holidays(conn: asyncpg.Connection, days: list[date]) -> None:
    await conn.execute("DELETE FROM holidays")
    await conn.executemany("INSERT INTO holidays (day) VALUES ($1)", [(d,) for d in days])


async def holidays(conn: asyncpg.Connection) -> set[date]:
    return {r["day"] for r in await conn.fetch("SELECT day FROM holidays")}


async def find_lead_agency(conn: asyncpg.Connection, category: str, ward_code: str | None) -> Agency | None:
    row = await conn.fetchrow(
        "SELECT a.code, a.name, a.email FROM routing_rules r JOIN agencies a ON a.code = r.agency_code "
        "WHERE r.category = $1 AND (r.ward_code IS NULL OR r.ward_code = $2) "
        "AND now() >= r.valid_from AND now() < r.valid_to AND now() >= a.valid_from AND now() < a.valid_to "
        "ORDER BY r.ward_code IS NULL LIMIT 1",
        category,
        ward_code,
    )
    return None if row is None else Agency(**dict(row))


async def find_agency(conn: asyncpg.Connection, code: str) -> Agency | None:
    row = await conn.fetchrow("SELECT code, name, email FROM agencies WHERE code = $1", code)
    return None if row is None else Agency(**dict(row))


async def insert_assignment(conn: asyncpg.Connection, row: dict[str, Any]) -> bool:
    """False when the report was already assigned (a replayed event)."""
    inserted = await conn.fetchval(
        "INSERT INTO assignments "
        "(report_id, agency_code, category, ward_code, title, triage, status, status_sequence, assigned_at, due_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (report_id) DO NOTHING RETURNING true",
        row["report_id"],
        row["agency_code"],
        row["category"],
        row["ward_code"],
        row["title"],
        row["triage"],
        row["status"],
        row["status_sequence"],
        row["assigned_at"],
        row["due_at"],
    )
    return bool(inserted)


async def list_agencies(conn: asyncpg.Connection) -> list[Agency]:
    return [Agency(**dict(r)) for r in await conn.fetch("SELECT code, name, email FROM agencies ORDER BY code")]


async def assignments_of(conn: asyncpg.Connection, agency_code: str, limit: int) -> list[AssignmentView]:
    rows = await conn.fetch(
        "SELECT report_id, category, ward_code, title, triage, status, assigned_at, due_at FROM assignments "
        "WHERE agency_code = $1 ORDER BY assigned_at DESC LIMIT $2",
        agency_code,
        limit,
    )
    return [AssignmentView(**dict(r)) for r in rows]
