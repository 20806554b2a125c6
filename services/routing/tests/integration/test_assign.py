"""Routing a submitted report against the real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
import pytest

from paht_shared.consumer import Handler, handle_once
from paht_shared.contracts import ReportStatusChangedV1, ReportSubmittedV1, topics
from paht_shared.db import create_pool
from paht_shared.envelope import Envelope
from paht_shared.kafka import topic_partitions
from routing.config import Settings
from routing.consumers import ASSIGN, subscriptions
from routing.directory import load_reference, load_reference_data, reference_file


@pytest.fixture
async def pool(admin_dsn: str, service_schema: Callable[[str], Awaitable[str]]) -> AsyncIterator[asyncpg.Pool]:
    schema = await service_schema("routing")
    pool = await create_pool(admin_dsn, schema)
    async with pool.acquire() as conn:
        await load_reference(conn, reference_file())
    yield pool
    await pool.close()


@pytest.fixture
def assign() -> Handler:
    (subscription, _citizen) = subscriptions(Settings())
    return subscription.handle


def submitted(category: str) -> Envelope:
    report = ReportSubmittedV1(
        report_id=uuid.uuid4(),
        tracking_code="PA-TEST2345",
        channel="web",
        category=category,
        title="Đèn đường hỏng",
        ward_code="31507",
        submitted_at=datetime.now(UTC),
        public=True,
        anonymous=False,
    )
    return Envelope.of(report, "intake", "corr-1")


async def test_report_is_assigned_to_the_rule_agency_with_three_events(pool: asyncpg.Pool, assign: Handler) -> None:
    """routed, status_changed(assigned, sequence 1) and the agency's own inbox topic, in one transaction."""
    event = submitted("dien-chieu-sang")
    assert await handle_once(pool, ASSIGN, event, topics.REPORT_SUBMITTED, assign)
    row = await pool.fetchrow("SELECT agency_code, triage, status, status_sequence FROM assignments")
    assert dict(row) == {"agency_code": "DIEN-LUC", "triage": False, "status": "assigned", "status_sequence": 1}
    outbox = await pool.fetch("SELECT topic, key, payload FROM outbox ORDER BY id")
    assert [r["topic"] for r in outbox] == ["report.status_changed.v1", "report.routed.v1", "agency.dien-luc.inbox.v1"]
    assert {r["key"] for r in outbox} == {event.data["report_id"]}
    status = Envelope.model_validate_json(bytes(outbox[0]["payload"]))
    change = ReportStatusChangedV1.model_validate(status.data)
    assert (change.status, change.sequence) == ("assigned", 1)
    assert change.agency_email == "dienluc@paht.example"
    assert status.correlation_id == "corr-1"
    assert status.causation_id == str(event.event_id)


async def test_unmatched_category_goes_to_the_coordinator_and_replay_is_harmless(
    pool: asyncpg.Pool, assign: Handler
) -> None:
    """No rule: the coordinator's triage queue. The same report routed again adds nothing."""
    event = submitted("khac")
    await handle_once(pool, ASSIGN, event, topics.REPORT_SUBMITTED, assign)
    assert await pool.fetchval("SELECT agency_code FROM assignments") == "VP-UBND"
    assert await pool.fetchval("SELECT triage FROM assignments") is True
    # The same report in a different envelope (e.g. re-submitted by an operator): no second assignment.
    again = Envelope(**{**event.model_dump(), "event_id": uuid.uuid4()})
    await handle_once(pool, ASSIGN, again, topics.REPORT_SUBMITTED, assign)
    assert await pool.fetchval("SELECT count(*) FROM assignments") == 1
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 3


async def test_an_agency_added_to_the_reference_data_gets_its_queue_topic(
    pool: asyncpg.Pool, admin_dsn: str, kafka_bootstrap: str
) -> None:
    """Loading agencies creates each one's inbox topic and its dead-letter topic on the broker."""
    code = f"TEST-{uuid.uuid4().hex[:8].upper()}"
    schema = await pool.fetchval("SELECT current_schema()")
    data = reference_file()
    data["agencies"] = [*data["agencies"], {"code": code, "name": "Cơ quan thử nghiệm", "kind": "department"}]
    with pytest.raises(LookupError):
        await topic_partitions(kafka_bootstrap, topics.agency_inbox(code))
    settings = Settings(database_url=admin_dsn, db_schema=schema, kafka_bootstrap=kafka_bootstrap, kafka_partitions=2)
    await load_reference_data(settings, data)
    assert len(await topic_partitions(kafka_bootstrap, topics.agency_inbox(code))) == 2
    assert len(await topic_partitions(kafka_bootstrap, topics.dlq(topics.agency_inbox(code)))) == 2
    assert await pool.fetchval("SELECT name FROM agencies WHERE code = $1", code) == "Cơ quan thử nghiệm"
