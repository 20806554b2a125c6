"""Routing use cases: load reference data, assign a submitted report to its lead agency."""

from __future__ import annotations

from datetime import date
from importlib import resources
from typing import Any

import asyncpg
import structlog
import yaml

from paht_shared import outbox, reference
from paht_shared.contracts import ReportStatus, ReportSubmittedV1, topics
from paht_shared.contracts.dispatch import Event
from paht_shared.envelope import utc_now
from paht_shared.kafka import ensure_topics
from routing import events, repository
from routing.config import Settings
from routing.domain import Agency, AssignmentView, answer_deadline

log = structlog.get_logger("routing.service")


def reference_file() -> dict[str, Any]:
    return dict(yaml.safe_load((resources.files("routing") / "data" / "agencies.yaml").read_text(encoding="utf-8")))


async def load_reference_data(settings: Settings, data: dict[str, Any] | None = None) -> None:
    """`python -m routing load-reference`: the repo's reference file into the routing schema."""
    data = reference_file() if data is None else data
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": settings.db_schema})
    try:
        await load_reference(conn, data)
    finally:
        await conn.close()
    # Every agency gets its queue topic here, where agencies are loaded, not only in one deployment script.
    queues = [topics.agency_inbox(a["code"]) for a in data["agencies"]]
    created = await ensure_topics(
        settings.kafka_bootstrap,
        topics.with_dead_letters(queues),
        settings.kafka_partitions,
        settings.kafka_replication,
    )
    log.info("agency_queues_ready", agencies=len(queues), topics_created=len(created))


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

    async def __call__(self, event: Event[ReportSubmittedV1], conn: asyncpg.Connection) -> None:
        report = event.data
        agency = await repository.find_lead_agency(conn, report.category, report.ward_code)
        triage = agency is None
        if agency is None:
            agency = await repository.find_agency(conn, self._settings.coordinator_agency)
            if agency is None:
                raise LookupError("coordinator agency missing from reference data")
        now = utc_now()
        sla = reference.category(report.category)
        due_at = answer_deadline(
            report.received_at or now,  # deadlines count from the official reception (intake's office calendar)
            sla.sla_working_days if sla else 10,
            await repository.holidays(conn),
            self._settings.timezone,
            self._settings.office_close_hour,
        )
        sequence = 1  # the report's first status change
        inserted = await repository.insert_assignment(
            conn,
            {
                "report_id": report.report_id,
                "agency_code": agency.code,
                "category": report.category,
                "ward_code": report.ward_code,
                "title": report.title,
                "triage": triage,
                "status": ReportStatus.ASSIGNED.value,
                "status_sequence": sequence,
                "assigned_at": now,
                "due_at": due_at,
            },
        )
        if not inserted:
            log.info("report_already_assigned", report_id=str(report.report_id))
            return
        key = str(report.report_id)
        routed = events.report_routed(report, agency, due_at, triage, now)
        status = events.status_changed(report, sequence, ReportStatus.ASSIGNED, agency, due_at, triage, now)
        queued = events.agency_assignment(report, agency, due_at, triage, now)
        await outbox.add(conn, topics.REPORT_ROUTED, event.caused(routed, events.PRODUCER), key)
        await outbox.add(conn, topics.REPORT_STATUS_CHANGED, event.caused(status, events.PRODUCER), key)
        await outbox.add(conn, topics.agency_inbox(agency.code), event.caused(queued, events.PRODUCER), key)
        log.info("report_assigned", report_id=key, agency=agency.code, triage=triage)
