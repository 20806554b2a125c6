"""All of intake's SQL ($n parameters only). Functions take the connection of the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from intake.models import PublicFilters

_REPORTER_COLUMNS = (
    "full_name_enc", "address_enc", "cccd_enc", "phone_enc", "email_enc", "phone_bidx", "cccd_bidx", "email_bidx"
)  # fmt: skip


async def insert_submission(
    conn: asyncpg.Connection, reporter_id: uuid.UUID, sealed: dict[str, bytes | None], report: dict[str, Any]
) -> None:
    """The reporter, the report and its first timeline entry in one statement (one round trip: submissions
    are the hot path). Report column names come from our own dict literal in service.py, never from input."""
    reporter_values = [sealed[name.removesuffix("_enc")] if name.endswith("_enc") else sealed[name]
                       for name in _REPORTER_COLUMNS]  # fmt: skip
    args: list[Any] = [reporter_id, *reporter_values, *report.values()]
    reporter_marks = ", ".join(f"${i}" for i in range(1, len(_REPORTER_COLUMNS) + 2))
    first = len(_REPORTER_COLUMNS) + 2
    report_marks = ", ".join(f"${i}" for i in range(first, first + len(report)))
    await conn.execute(
        f"WITH reporter AS (INSERT INTO reporters (id, {', '.join(_REPORTER_COLUMNS)}) "
        f"VALUES ({reporter_marks}) RETURNING id), "
        f"report AS (INSERT INTO reports (reporter_id, {', '.join(report)}) "
        f"SELECT reporter.id, {report_marks} FROM reporter RETURNING id, submitted_at) "
        "INSERT INTO report_timeline (report_id, status, sequence, at, actor) "
        "SELECT id, 'submitted', 0, submitted_at, 'system' FROM report",
        *args,
    )


async def recent_submissions_by_phone(conn: asyncpg.Connection, phone_bidx: bytes, since: datetime) -> int:
    """Reports sent with this phone since `since`; the caller holds the phone's advisory lock, so two
    submissions of one phone count one after the other."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", int.from_bytes(phone_bidx[:8], "big", signed=True))
    count: int = await conn.fetchval(
        "SELECT count(*) FROM reports r JOIN reporters p ON p.id = r.reporter_id "
        "WHERE p.phone_bidx = $1 AND r.submitted_at >= $2",
        phone_bidx,
        since,
    )
    return count


async def add_timeline(
    conn: asyncpg.Connection,
    report_id: uuid.UUID,
    status: str,
    sequence: int,
    at: datetime,
    agency_code: str | None = None,
    agency_name: str | None = None,
    note: str | None = None,
    actor: str = "agency",
) -> None:
    await conn.execute(
        "INSERT INTO report_timeline (report_id, status, sequence, agency_code, agency_name, note, at, actor) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        report_id,
        status,
        sequence,
        agency_code,
        agency_name,
        note,
        at,
        actor,
    )


async def lock_report_sequence(conn: asyncpg.Connection, report_id: uuid.UUID) -> int | None:
    """The sequence of the report's current status, row locked until the transaction ends; None if unknown.

    The lock orders two consumers applying changes of one report at once (during a rebalance)."""
    sequence: int | None = await conn.fetchval(
        "SELECT status_sequence FROM reports WHERE id = $1 FOR UPDATE", report_id
    )
    return sequence


async def set_status(
    conn: asyncpg.Connection,
    report_id: uuid.UUID,
    status: str,
    sequence: int,
    agency_code: str | None,
    agency_name: str | None,
    due_at: datetime | None,
) -> None:
    await conn.execute(
        "UPDATE reports SET status = $2, status_sequence = $3, agency_code = COALESCE($4, agency_code), "
        "agency_name = COALESCE($5, agency_name), due_at = COALESCE($6, due_at), updated_at = now() WHERE id = $1",
        report_id,
        status,
        sequence,
        agency_code,
        agency_name,
        due_at,
    )


async def claim_idempotency_key(
    conn: asyncpg.Connection, key: str, request_hash: bytes, report_id: uuid.UUID, response_enc: bytes
) -> bool:
    """True if this request owns the key; False if another request stored it first (it then waits for that one)."""
    owned = await conn.fetchval(
        "INSERT INTO idempotency_keys (key, request_hash, report_id, response_enc) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (key) DO NOTHING RETURNING true",
        key,
        request_hash,
        report_id,
        response_enc,
    )
    return bool(owned)


async def find_idempotency_key(conn: asyncpg.Connection, key: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT request_hash, response_enc FROM idempotency_keys WHERE key = $1", key
    )
    return row


_REPORT_COLUMNS = (
    "id, tracking_code, tracking_secret_hash, title, content, category, ward_code, area_code, status, "
    "status_sequence, agency_code, agency_name, due_at, submitted_at, received_at, updated_at, is_public, "
    "anonymous, original_enc, answer_text, answer_media_ids, answer_agency_code, answer_agency_name, answered_at, "
    "answered_on_time, rating, rating_comment, rated_at, reopen_count"
)


async def find_by_tracking_code(
    conn: asyncpg.Connection, tracking_code: str, for_update: bool = False
) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {_REPORT_COLUMNS} FROM reports WHERE tracking_code = $1{lock}", tracking_code
    )
    return row


async def find_by_reporter_email(
    conn: asyncpg.Connection, tracking_code: str, email_bidx: bytes
) -> asyncpg.Record | None:
    """The report if its reporter's email has this blind index (an emailed reply names its report by code)."""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {_REPORT_COLUMNS} FROM reports WHERE tracking_code = $1 "
        "AND reporter_id IN (SELECT id FROM reporters WHERE email_bidx = $2)",
        tracking_code,
        email_bidx,
    )
    return row


async def timeline(conn: asyncpg.Connection, report_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT status, agency_code, agency_name, note, at, actor FROM report_timeline WHERE report_id = $1 "
            "ORDER BY sequence, id",
            report_id,
        )
    )


async def set_answer(
    conn: asyncpg.Connection,
    report_id: uuid.UUID,
    text: str,
    media_ids: tuple[uuid.UUID, ...],
    agency_code: str | None,
    agency_name: str | None,
    answered_at: datetime,
    searchable: str,
) -> None:
    """The newest answer replaces an older one (after a reopening); a new answer may be rated again.
    `searchable`: the answer folded for search without diacritics."""
    await conn.execute(
        "UPDATE reports SET answer_text = $2, answer_media_ids = $3, answer_agency_code = $4, "
        "answer_agency_name = $5, answered_at = $6, answered_on_time = (due_at IS NULL OR $6 <= due_at), "
        "rating = NULL, rating_comment = NULL, rated_at = NULL, "
        "search_text = search_text || ' ' || $7 WHERE id = $1",
        report_id,
        text,
        list(media_ids),
        agency_code,
        agency_name,
        answered_at,
        searchable,
    )


async def add_information_request(
    conn: asyncpg.Connection, report_id: uuid.UUID, sequence: int, question: str, asked_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO information_requests (report_id, sequence, question, asked_at) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (report_id, sequence) DO NOTHING",
        report_id,
        sequence,
        question,
        asked_at,
    )


async def information_requests(conn: asyncpg.Connection, report_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT id, question, asked_at, reply, replied_at FROM information_requests WHERE report_id = $1 "
            "ORDER BY sequence",
            report_id,
        )
    )


async def reply_to_information_request(
    conn: asyncpg.Connection, request_id: int, reply: str, media_ids: list[uuid.UUID], at: datetime
) -> None:
    await conn.execute(
        "UPDATE information_requests SET reply = $2, reply_media_ids = $3, replied_at = $4 WHERE id = $1",
        request_id,
        reply,
        media_ids,
        at,
    )


async def set_rating(
    conn: asyncpg.Connection, report_id: uuid.UUID, rating: str, comment: str | None, at: datetime
) -> None:
    await conn.execute(
        "UPDATE reports SET rating = $2, rating_comment = $3, rated_at = $4, status = 'rated', updated_at = $4 "
        "WHERE id = $1",
        report_id,
        rating,
        comment,
        at,
    )


async def set_reopened(conn: asyncpg.Connection, report_id: uuid.UUID, at: datetime) -> int:
    count: int = await conn.fetchval(
        "UPDATE reports SET reopen_count = reopen_count + 1, status = 'reopened', updated_at = $2 WHERE id = $1 "
        "RETURNING reopen_count",
        report_id,
        at,
    )
    return count


async def tracking_lock(conn: asyncpg.Connection, tracking_code: str, window: timedelta) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT failures, window_start + $2::interval AS until FROM tracking_failures "
        "WHERE tracking_code = $1 AND window_start > now() - $2::interval",
        tracking_code,
        window,
    )
    return row


async def count_wrong_secret(conn: asyncpg.Connection, tracking_code: str, window: timedelta) -> None:
    """One more failure in the code's current window (a new window once the old one has passed)."""
    await conn.execute(
        "INSERT INTO tracking_failures (tracking_code, failures, window_start) VALUES ($1, 1, now()) "
        "ON CONFLICT (tracking_code) DO UPDATE SET "
        "failures = CASE WHEN tracking_failures.window_start > now() - $2::interval "
        "THEN tracking_failures.failures + 1 ELSE 1 END, "
        "window_start = CASE WHEN tracking_failures.window_start > now() - $2::interval "
        "THEN tracking_failures.window_start ELSE now() END",
        tracking_code,
        window,
    )


async def reporter_of(conn: asyncpg.Connection, report_id: uuid.UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT p.id, p.full_name_enc FROM reports r JOIN reporters p ON p.id = r.reporter_id WHERE r.id = $1",
        report_id,
    )
    return row


_PUBLIC_COLUMNS = (
    "tracking_code, title, content, category, ward_code, area_code, status, agency_code, agency_name, "
    "submitted_at, answer_text, answer_media_ids, answer_agency_code, answer_agency_name, answered_at, "
    "answered_on_time, lat, lon"
)


def _public_filters(filters: PublicFilters) -> tuple[str, list[Any]]:
    """WHERE clause of the public list: only public reports; every value a $n parameter."""
    clauses = ["is_public"]
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if filters.category:
        clauses.append(f"category = {arg(filters.category)}")
    if filters.ward_code:
        clauses.append(f"ward_code = {arg(filters.ward_code)}")
    if filters.status:
        clauses.append(f"status = {arg(filters.status)}")
    if filters.since:
        clauses.append(f"submitted_at >= {arg(filters.since)}")
    if filters.until:
        clauses.append(f"submitted_at < {arg(filters.until)}")
    if filters.words:
        clauses.append(f"to_tsvector('simple', search_text) @@ plainto_tsquery('simple', {arg(filters.words)})")
    return " AND ".join(clauses), args


async def public_reports(conn: asyncpg.Connection, filters: PublicFilters) -> tuple[list[asyncpg.Record], int]:
    where, args = _public_filters(filters)
    total: int = await conn.fetchval(f"SELECT count(*) FROM reports WHERE {where}", *args)
    limit, offset = f"${len(args) + 1}", f"${len(args) + 2}"
    rows = await conn.fetch(
        f"SELECT {_PUBLIC_COLUMNS} FROM reports WHERE {where} "
        f"ORDER BY submitted_at DESC, tracking_code LIMIT {limit} OFFSET {offset}",
        *args,
        filters.per_page,
        (filters.page - 1) * filters.per_page,
    )
    return list(rows), total


async def public_report(conn: asyncpg.Connection, tracking_code: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT id, {_PUBLIC_COLUMNS} FROM reports WHERE tracking_code = $1 AND is_public", tracking_code
    )
    return row


async def report_counts(conn: asyncpg.Connection, since: datetime | None, until: datetime | None) -> asyncpg.Record:
    """Counts of every report (aggregates only: no report is shown) by category, ward, status and month."""
    row: asyncpg.Record = await conn.fetchrow(
        """
        WITH chosen AS (
            SELECT category, ward_code, status, answered_at, answered_on_time,
                   to_char(submitted_at AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYY-MM') AS month
            FROM reports
            WHERE ($1::timestamptz IS NULL OR submitted_at >= $1) AND ($2::timestamptz IS NULL OR submitted_at < $2)
        )
        SELECT
            (SELECT count(*) FROM chosen) AS total,
            (SELECT count(*) FROM chosen WHERE answered_at IS NOT NULL) AS answered,
            (SELECT count(*) FROM chosen WHERE answered_on_time) AS answered_on_time,
            (SELECT coalesce(jsonb_object_agg(category, n), '{}') FROM
                (SELECT category, count(*) AS n FROM chosen GROUP BY category) c) AS by_category,
            (SELECT coalesce(jsonb_object_agg(ward_code, n), '{}') FROM
                (SELECT coalesce(ward_code, '') AS ward_code, count(*) AS n FROM chosen GROUP BY 1) w) AS by_ward,
            (SELECT coalesce(jsonb_object_agg(status, n), '{}') FROM
                (SELECT status, count(*) AS n FROM chosen GROUP BY status) s) AS by_status,
            (SELECT coalesce(jsonb_object_agg(month, n), '{}') FROM
                (SELECT month, count(*) AS n FROM chosen GROUP BY month) m) AS by_month
        """,
        since,
        until,
    )
    return row
