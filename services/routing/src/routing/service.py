"""Routing use cases: load reference data, assign a submitted report to its lead agency."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from importlib import resources
from typing import Any

import asyncpg
import structlog
import yaml

from paht_shared import outbox, reference
from paht_shared.envelope import Envelope, utc_now
from routing import repository
from routing.config import Settings
from routing.domain import Agency, AssignmentView, answer_deadline
from routing.events import PRODUCER, REPORT_ROUTED, REPORT_STATUS_CHANGED, agency_inbox_topic

log = structlog.get_logger("routing.service")


def reference_file() -> dict[str, Any]:
    return dict(yaml.safe_load((resources.files("routing") / "data" / "agencies.yaml").read_text(encoding="utf-8")))


async def load_reference_data(settings: Settings) -> None:
    """`python -m routing load-reference`: the repo's reference file into the routing schema."""
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": settings.db_schema})
    try:
        await load_reference(conn, reference_file())
    finally:
        await conn.close()


async def load_reference(conn: asyncpg.Connection, data: dict[str, Any]) -> None:
    """Upsert agencies, replace rules and holidays: the repo's data file is the source of truth for now."""
    async with conn.transaction():
        for agency in data["agencies"]:
            await repository.upsert_agency(conn, agency["code"], agency["name"], agency.get("email"))
        await repository.replace_rules(conn, [(r["category"], r.get("ward_code"), r["agency"]) for r in data["rules"]])
        await repository.replace_holidays(
            conn, [d if isinstance(d, date) else date.fromisoformat(d) for d in data["holidays"]]
        )


async def list_agencies(pool: asyncpg.Pool) -> list[Agency]:
    async with pool.acquire() as conn:
        return await repository.list_agencies(conn)


async def assignments_of(pool: asyncpg.Pool, agency_code: str, limit: int) -> list[AssignmentView] | None:
    """The agency's newest assignments; None when there is no such agency."""
    async with pool.acquire() as conn:
        if await repository.find_agency(conn, agency_code) is None:
            return None
        return await repository.assignments_of(conn, agency_code, limit)


class ReportRouter:
    """Handler for report.submitted: one assignment and its events, in the consumer's inbox transaction."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def __call__(self, event: Envelope, conn: asyncpg.Connection) -> None:
        data = event.data
        report_id = uuid.UUID(data["report_id"])
        category = data["category"]
        agency = await repository.find_lead_agency(conn, category, data.get("ward_code"))
        triage = agency is None
        if agency is None:
            agency = await repository.find_agency(conn, self._settings.coordinator_agency)
            if agency is None:
                raise LookupError("coordinator agency missing from reference data")
        now = utc_now()
        sla = reference.category(category)
        due_at = answer_deadline(
            now,
            sla.sla_working_days if sla else 10,
            await repository.holidays(conn),
            self._settings.timezone,
            self._settings.office_close_hour,
        )
        inserted = await repository.insert_assignment(
            conn,
            {
                "report_id": report_id,
                "agency_code": agency.code,
                "category": category,
                "ward_code": data.get("ward_code"),
                "title": data.get("title"),
                "triage": triage,
                "status": "assigned",
                "assigned_at": now,
                "due_at": due_at,
            },
        )
        if not inserted:
            log.info("report_already_assigned", report_id=str(report_id))
            return
        await self._publish(conn, event, agency, now, due_at, triage)
        log.info("report_assigned", report_id=str(report_id), agency=agency.code, triage=triage)

    async def _publish(
        self,
        conn: asyncpg.Connection,
        cause: Envelope,
        agency: Agency,
        now: datetime,
        due_at: datetime,
        triage: bool,
    ) -> None:
        data = cause.data
        key = data["report_id"]
        common = {
            "report_id": data["report_id"],
            "tracking_code": data.get("tracking_code"),
            "category": data["category"],
            "ward_code": data.get("ward_code"),
            "title": data.get("title"),
            "agency_code": agency.code,
            "agency_name": agency.name,
            "due_at": due_at.isoformat(),
            "triage": triage,
        }
        routed = cause.caused(REPORT_ROUTED, PRODUCER, {**common, "routed_at": now.isoformat()})
        status = cause.caused(
            REPORT_STATUS_CHANGED,
            PRODUCER,
            {
                **common,
                "status": "assigned",
                "changed_at": now.isoformat(),
                # Agency contact data (not personal) travels so notify can write to the agency.
                "agency_email": agency.email,
            },
        )
        inbox = cause.caused("agency.assignment.v1", PRODUCER, {**common, "assigned_at": now.isoformat()})
        await outbox.add(conn, REPORT_ROUTED, routed, key)
        await outbox.add(conn, REPORT_STATUS_CHANGED, status, key)
        await outbox.add(conn, agency_inbox_topic(agency.code), inbox, key)
