"""What the public may see: public reports with personal data masked, and counts. Never a reporter."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from intake import repository
from intake.models import PublicFilters, PublicPage, PublicReport, PublicStats, Share
from intake.tracking import answer_of, category_named, named, timeline_of, ward_named
from paht_shared import reference
from paht_shared.contracts import ReportStatus


def _public(row: asyncpg.Record, province_code: int) -> PublicReport:
    status = ReportStatus(row["status"])
    area = next((a for a in reference.areas() if a.code == row["area_code"]), None)
    return PublicReport(
        tracking_code=row["tracking_code"],
        title=row["title"],  # stored masked
        content=row["content"],
        category=category_named(row["category"]),
        ward=ward_named(row["ward_code"], province_code),
        area=named(area.code, area.name) if area else None,
        status=status,
        status_label=status.label,
        agency=named(row["agency_code"], row["agency_name"]),
        submitted_at=row["submitted_at"],
        answer=answer_of(row),
        lat=row["lat"],
        lon=row["lon"],
    )


async def list_reports(pool: asyncpg.Pool, filters: PublicFilters, province_code: int) -> PublicPage:
    async with pool.acquire() as conn:
        rows, total = await repository.public_reports(conn, filters)
    return PublicPage(
        items=[_public(r, province_code) for r in rows], page=filters.page, per_page=filters.per_page, total=total
    )


async def show_report(pool: asyncpg.Pool, tracking_code: str, province_code: int) -> PublicReport | None:
    async with pool.acquire() as conn:
        row = await repository.public_report(conn, tracking_code)
        if row is None:
            return None
        events = await repository.timeline(conn, row["id"])
    report = _public(row, province_code)
    # The public timeline shows statuses and agencies; notes may be the citizen's own words.
    report.timeline = [e.model_copy(update={"note": None}) for e in timeline_of(events)]
    return report


async def stats(pool: asyncpg.Pool, since: datetime | None, until: datetime | None, province_code: int) -> PublicStats:
    async with pool.acquire() as conn:
        row = await repository.report_counts(conn, since, until)
    wards = reference.wards(province_code)
    answered, on_time = row["answered"], row["answered_on_time"]
    return PublicStats(
        total=row["total"],
        by_category=[
            {"code": code, "name": category_named(code).name, "count": n}
            for code, n in sorted(row["by_category"].items(), key=lambda kv: -kv[1])
        ],
        by_ward=[
            {"code": code or None, "name": wards.get(code, "Chưa xác định"), "count": n}
            for code, n in sorted(row["by_ward"].items(), key=lambda kv: -kv[1])
        ],
        by_status=[
            {"status": s, "label": ReportStatus(s).label, "count": n}
            for s, n in sorted(row["by_status"].items(), key=lambda kv: -kv[1])
        ],
        by_month=dict(sorted(row["by_month"].items())),
        answers=Share(
            answered=answered,
            answered_on_time=on_time,
            on_time_ratio=round(on_time / answered, 4) if answered else None,
        ),
    )
