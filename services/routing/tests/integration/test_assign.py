"""Routing a submitted report against the real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from paht_shared.consumer import handle_once
from paht_shared.db import create_pool
from paht_shared.envelope import Envelope
from routing.config import Settings
from routing.service import ReportRouter, load_reference, reference_file


@pytest.fixture
async def pool(admin_dsn: str, service_schema: Callable[[str], Awaitable[str]]) -> AsyncIterator[asyncpg.Pool]:
    schema = await service_schema("routing")
    pool = await create_pool(admin_dsn, schema)
    async with pool.acquire() as conn:
        await load_reference(conn, reference_file())
    yield pool
    await pool.close()


def submitted(category: str) -> Envelope:
    return Envelope(
        event_type="report.submitted.v1",
        producer="intake",
        correlation_id="corr-1",
        data={
            "report_id": str(uuid.uuid4()),
            "tracking_code": "PA-TEST2345",
            "category": category,
            "ward_code": "31507",
            "title": "Đèn đường hỏng",
        },
    )


async def test_report_is_assigned_to_the_rule_agency_with_three_events(pool: asyncpg.Pool) -> None:
    """routed, status_changed(assigned) and the agency's own inbox topic, in one transaction."""
    event = submitted("dien-chieu-sang")
    router = ReportRouter(Settings())
    assert await handle_once(pool, "routing.assign", event, "report.submitted.v1", router)
    row = await pool.fetchrow("SELECT agency_code, triage, status FROM assignments")
    assert dict(row) == {"agency_code": "DIEN-LUC", "triage": False, "status": "assigned"}
    outbox = await pool.fetch("SELECT topic, key, payload FROM outbox ORDER BY id")
    assert [r["topic"] for r in outbox] == ["report.routed.v1", "report.status_changed.v1", "agency.dien-luc.inbox.v1"]
    assert {r["key"] for r in outbox} == {event.data["report_id"]}
    status = Envelope.model_validate_json(bytes(outbox[1]["payload"]))
    assert status.data["status"] == "assigned"
    assert status.data["agency_email"] == "dienluc@paht.example"
    assert status.correlation_id == "corr-1"
    assert status.causation_id == str(event.event_id)


async def test_unmatched_category_goes_to_the_coordinator_and_replay_is_harmless(pool: asyncpg.Pool) -> None:
    """No rule: the coordinator's triage queue. The same report routed again adds nothing."""
    event = submitted("khac")
    router = ReportRouter(Settings())
    await handle_once(pool, "routing.assign", event, "report.submitted.v1", router)
    assert await pool.fetchval("SELECT agency_code FROM assignments") == "VP-UBND"
    assert await pool.fetchval("SELECT triage FROM assignments") is True
    # The same report in a different envelope (e.g. re-submitted by an operator): no second assignment.
    again = Envelope(**{**event.model_dump(), "event_id": uuid.uuid4()})
    await handle_once(pool, "routing.assign", again, "report.submitted.v1", router)
    assert await pool.fetchval("SELECT count(*) FROM assignments") == 1
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 3
