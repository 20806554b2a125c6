"""What Open311's GET side reads: public reports only (the rule of the public views: `is_public`).

Its own SQL rather than repository.public_reports: Open311 shows the address, the map point, the due date and
the last update, and filters by lists of codes and statuses, none of which the public list has."""

from __future__ import annotations

import uuid

import asyncpg

from intake.open311.mapping import RequestQuery
from paht_shared.contracts import Channel

_COLUMNS = (
    "tracking_code, content, category, ward_code, address_text, lat, lon, status, agency_name, due_at, "
    "submitted_at, updated_at, answer_text"
)


async def public_requests(conn: asyncpg.Connection, query: RequestQuery) -> list[asyncpg.Record]:
    """A page of public reports, newest first. A filter given as NULL is not applied."""
    return list(
        await conn.fetch(
            f"SELECT {_COLUMNS} FROM reports WHERE is_public "
            "AND ($1::text[] IS NULL OR tracking_code = ANY($1)) "
            "AND ($2::text[] IS NULL OR category = ANY($2)) "
            "AND ($3::text[] IS NULL OR status = ANY($3)) "
            "AND ($4::timestamptz IS NULL OR submitted_at >= $4) "
            "AND ($5::timestamptz IS NULL OR submitted_at <= $5) "
            "ORDER BY submitted_at DESC, tracking_code LIMIT $6 OFFSET $7",
            list(query.ids) if query.ids is not None else None,
            list(query.service_codes) if query.service_codes is not None else None,
            list(query.statuses) if query.statuses is not None else None,
            query.start,
            query.end,
            query.page_size,
            (query.page - 1) * query.page_size,
        )
    )


async def public_request(conn: asyncpg.Connection, tracking_code: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM reports WHERE tracking_code = $1 AND is_public", tracking_code
    )
    return row


async def request_id_of_token(conn: asyncpg.Connection, token: uuid.UUID) -> str | None:
    """The tracking code of the Open311 report whose token (its report id) this is; public or not, since only
    its sender was given the token, and a tracking code alone opens nothing."""
    code: str | None = await conn.fetchval(
        "SELECT tracking_code FROM reports WHERE id = $1 AND channel = $2", token, Channel.OPEN311.value
    )
    return code
