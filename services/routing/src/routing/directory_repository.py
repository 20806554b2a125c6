"""All the SQL of routing's reference data: agencies, routing rules, categories and their change log.

Open validity bounds are stored as -infinity/infinity (the columns are NOT NULL) and read back as NULL, so
Python sees None rather than asyncpg's naive datetime.min/max.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import asyncpg

if TYPE_CHECKING:
    from routing.directory import AgencyEntry, CategoryEntry, RuleEntry, Source

AGENCY_COLUMNS = (
    "code, name, kind, email, ward_code, NULLIF(valid_from, '-infinity') AS valid_from, "
    "NULLIF(valid_to, 'infinity') AS valid_to, replaced_by, source, updated_at"
)
RULE_COLUMNS = (
    "id, category, agency_code, ward_code, area_code, urgent, co_agencies, "
    "NULLIF(valid_from, '-infinity') AS valid_from, NULLIF(valid_to, 'infinity') AS valid_to, source, updated_at"
)
CATEGORY_COLUMNS = (
    "code, field_code, field_name, name, deadline_class, working_days, public_allowed, active, position, source, "
    "updated_at"
)
# The order in which rules compete: urgent ones first (only urgent reports reach them), then a ward's over a
# named area's over the category-wide; between rules of the same match the latest valid_from, then the oldest id.
RULE_PRECEDENCE = "r.urgent DESC, r.ward_code IS NULL, r.area_code IS NULL, r.valid_from DESC, r.id"


async def lock_reference(conn: asyncpg.Connection) -> None:
    """One loader at a time per schema, until the transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('routing-reference-' || current_schema()))")


# --- agencies --------------------------------------------------------------------------------------------------


async def agencies(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return list(await conn.fetch(f"SELECT {AGENCY_COLUMNS} FROM agencies ORDER BY kind <> 'coordinator', kind, code"))


async def agency(conn: asyncpg.Connection, code: str, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {AGENCY_COLUMNS} FROM agencies WHERE code = $1{lock}", code
    )
    return row


async def agencies_valid_at(conn: asyncpg.Connection, codes: Sequence[str], at: datetime) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            f"SELECT {AGENCY_COLUMNS} FROM agencies "
            "WHERE code = ANY($1::text[]) AND valid_from <= $2 AND $2 < valid_to",
            list(codes),
            at,
        )
    )


async def replacement_chain(conn: asyncpg.Connection, code: str, limit: int) -> list[asyncpg.Record]:
    """The successors of `code` in order (its replaced_by, that one's replaced_by, ...), at most `limit`."""
    return list(
        await conn.fetch(
            "WITH RECURSIVE chain (code, depth) AS ("
            "  SELECT replaced_by, 1 FROM agencies WHERE code = $1 AND replaced_by IS NOT NULL"
            "  UNION ALL"
            "  SELECT a.replaced_by, c.depth + 1 FROM chain c JOIN agencies a ON a.code = c.code"
            "  WHERE a.replaced_by IS NOT NULL AND c.depth < $2"
            f") SELECT {AGENCY_COLUMNS} FROM chain JOIN agencies USING (code) ORDER BY depth",
            code,
            limit,
        )
    )


async def upsert_agency(conn: asyncpg.Connection, a: AgencyEntry, source: Source) -> None:
    await conn.execute(
        "INSERT INTO agencies (code, name, kind, email, ward_code, valid_from, valid_to, replaced_by, source) "
        "VALUES ($1, $2, $3, $4, $5, COALESCE($6, '-infinity'::timestamptz), COALESCE($7, 'infinity'::timestamptz),"
        " $8, $9) "
        "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, email = EXCLUDED.email, "
        "ward_code = EXCLUDED.ward_code, valid_from = EXCLUDED.valid_from, valid_to = EXCLUDED.valid_to, "
        "replaced_by = EXCLUDED.replaced_by, source = EXCLUDED.source, updated_at = now()",
        a.code,
        a.name,
        a.kind.value,
        a.email,
        a.ward_code,
        a.valid_from,
        a.valid_to,
        a.replaced_by,
        source.value,
    )


# --- rules -----------------------------------------------------------------------------------------------------


async def rules(conn: asyncpg.Connection, category: str | None = None) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            f"SELECT {RULE_COLUMNS} FROM routing_rules r WHERE $1::text IS NULL OR category = $1 "
            f"ORDER BY category, {RULE_PRECEDENCE}",
            category,
        )
    )


async def rule(conn: asyncpg.Connection, rule_id: int, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {RULE_COLUMNS} FROM routing_rules WHERE id = $1{lock}", rule_id
    )
    return row


async def insert_rule(conn: asyncpg.Connection, r: RuleEntry, source: Source) -> int:
    rule_id: int = await conn.fetchval(
        "INSERT INTO routing_rules "
        "(category, agency_code, ward_code, area_code, urgent, co_agencies, valid_from, valid_to, source) "
        "VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7, '-infinity'::timestamptz), COALESCE($8, 'infinity'::timestamptz),"
        " $9) RETURNING id",
        r.category,
        r.agency,
        r.ward_code,
        r.area_code,
        r.urgent,
        list(r.co_agencies),
        r.valid_from,
        r.valid_to,
        source.value,
    )
    return rule_id


async def update_rule(conn: asyncpg.Connection, r: RuleEntry, source: Source) -> None:
    """Rewrite the rule's agencies and validity (what it matches is its identity)."""
    await conn.execute(
        "UPDATE routing_rules SET agency_code = $2, co_agencies = $3, valid_to = COALESCE($4, 'infinity'::timestamptz),"
        " source = $5, updated_at = now() WHERE id = $1",
        r.id,
        r.agency,
        list(r.co_agencies),
        r.valid_to,
        source.value,
    )


async def delete_rule(conn: asyncpg.Connection, rule_id: int) -> None:
    await conn.execute("DELETE FROM routing_rules WHERE id = $1", rule_id)


async def best_rule(
    conn: asyncpg.Connection,
    category: str,
    ward_code: str | None,
    area_code: str | None,
    urgent: bool,
    at: datetime,
    excluding: Sequence[str],
) -> asyncpg.Record | None:
    """The winning rule valid at `at` whose lead agency is valid then and not excluded, with the lead's columns
    (rule_id, co_agencies, then the agency's)."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT r.id AS rule_id, r.co_agencies, a.code, a.name, a.kind, a.email, a.ward_code, "
        "NULLIF(a.valid_from, '-infinity') AS valid_from, NULLIF(a.valid_to, 'infinity') AS valid_to, "
        "a.replaced_by, a.source, a.updated_at "
        "FROM routing_rules r JOIN agencies a ON a.code = r.agency_code "
        "WHERE r.category = $1 AND (r.ward_code IS NULL OR r.ward_code = $2) "
        "AND (r.area_code IS NULL OR r.area_code = $3) AND (NOT r.urgent OR $4) "
        "AND r.valid_from <= $5 AND $5 < r.valid_to AND a.valid_from <= $5 AND $5 < a.valid_to "
        f"AND r.agency_code <> ALL($6::text[]) ORDER BY {RULE_PRECEDENCE} LIMIT 1",
        category,
        ward_code,
        area_code,
        urgent,
        at,
        list(excluding),
    )
    return row


# --- categories ------------------------------------------------------------------------------------------------


async def categories(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    # Fields in the order of their first category, categories in the file's order.
    return list(
        await conn.fetch(
            f"SELECT {CATEGORY_COLUMNS} FROM categories ORDER BY min(position) OVER (PARTITION BY field_code), position"
        )
    )


async def category(conn: asyncpg.Connection, code: str, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {CATEGORY_COLUMNS} FROM categories WHERE code = $1{lock}", code
    )
    return row


async def upsert_category(conn: asyncpg.Connection, c: CategoryEntry, source: Source) -> None:
    await conn.execute(
        "INSERT INTO categories "
        "(code, field_code, field_name, name, deadline_class, working_days, public_allowed, active, position, source) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
        "ON CONFLICT (code) DO UPDATE SET field_code = EXCLUDED.field_code, field_name = EXCLUDED.field_name, "
        "name = EXCLUDED.name, deadline_class = EXCLUDED.deadline_class, working_days = EXCLUDED.working_days, "
        "public_allowed = EXCLUDED.public_allowed, active = EXCLUDED.active, position = EXCLUDED.position, "
        "source = EXCLUDED.source, "
        "updated_at = now()",
        c.code,
        c.field_code,
        c.field_name,
        c.name,
        c.deadline_class,
        c.working_days,
        c.public_allowed,
        c.active,
        c.position,
        source.value,
    )


# --- the change log --------------------------------------------------------------------------------------------


async def record_change(
    conn: asyncpg.Connection,
    actor: str,
    kind: str,
    key: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    await conn.execute(
        "INSERT INTO reference_changes (actor, kind, key, before, after) VALUES ($1, $2, $3, $4::jsonb, $5::jsonb)",
        actor,
        kind,
        key,
        None if before is None else json.dumps(before, ensure_ascii=False),
        None if after is None else json.dumps(after, ensure_ascii=False),
    )
