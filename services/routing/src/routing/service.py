"""Routing use cases: the agency list and queues, and the event handlers that drive the workflow (work.py)."""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog

from paht_shared.calendar import OfficeCalendar
from paht_shared.contracts import (
    InformationProvidedV1,
    ReportRatedV1,
    ReportReopenedV1,
    ReportSubmittedV1,
)
from paht_shared.contracts.dispatch import Event
from routing import repository
from routing.config import Settings
from routing.domain import Agency, AssignmentView, Deadlines
from routing.work import Cause, Workflow

log = structlog.get_logger("routing.service")


async def list_agencies(pool: asyncpg.Pool) -> list[Agency]:
    async with pool.acquire() as conn:
        return await repository.list_agencies(conn)


async def assignments_of(pool: asyncpg.Pool, agency_code: str, limit: int) -> list[AssignmentView] | None:
    """The agency's newest assignments; None when there is no such agency."""
    async with pool.acquire() as conn:
        if await repository.find_agency(conn, agency_code) is None:
            return None
        return await repository.assignments_of(conn, agency_code, limit)


def workflow_of(settings: Settings) -> Workflow:
    calendar = OfficeCalendar.from_settings(
        office_hours=settings.office_hours,
        extra_days_off=settings.extra_days_off,
        extra_working_days=settings.extra_working_days,
    )
    return Workflow(
        deadlines=Deadlines(calendar, settings.urgent_working_days, settings.emergency_hours),
        coordinator=settings.coordinator_agency,
        max_extension_days=settings.max_extension_working_days,
    )


class ReportRouter:
    """Handler for report.submitted: one assignment and its events, in the consumer's inbox transaction."""

    def __init__(self, workflow: Workflow) -> None:
        self._workflow = workflow

    async def __call__(self, event: Event[ReportSubmittedV1], conn: asyncpg.Connection) -> None:
        cause = Cause(event.envelope.correlation_id, str(event.envelope.event_id))
        await self._workflow.assign_submitted(conn, event.data, cause)


class CitizenActions:
    """Handlers for report.citizen_actions: the citizen's reply resumes the clock, a reopening sends the
    report back to its agency, a rating closes it."""

    def __init__(self, workflow: Workflow) -> None:
        self._workflow = workflow

    async def information_provided(self, event: Event[InformationProvidedV1], conn: asyncpg.Connection) -> None:
        await self._workflow.information_provided(conn, event.data.report_id, _cause(event))

    async def reopened(self, event: Event[ReportReopenedV1], conn: asyncpg.Connection) -> None:
        await self._workflow.reopened(conn, event.data.report_id, event.data.reason, _cause(event))

    async def rated(self, event: Event[ReportRatedV1], conn: asyncpg.Connection) -> None:
        labels = {"hai_long": "Hài lòng", "chap_nhan_duoc": "Chấp nhận được", "khong_hai_long": "Không hài lòng"}
        await self._workflow.rated(conn, event.data.report_id, labels[event.data.rating], _cause(event))


def _cause(event: Event[Any]) -> Cause:
    return Cause(event.envelope.correlation_id, str(event.envelope.event_id))
