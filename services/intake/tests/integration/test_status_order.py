"""Status changes through the real broker: a late event never moves a report backwards."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from intake.app import make_vault
from intake.config import Settings
from intake.consumers import TRACKING, tracking_handlers
from paht_shared.consumer import ConsumerRunner, Subscription
from paht_shared.contracts import ReportStatus, ReportStatusChangedV1
from paht_shared.db import create_pool
from paht_shared.envelope import Envelope
from paht_shared.testing import pii
from paht_shared.testing.kafka import publish, read_all, running, wait_until

Client = TestClient[Any, Any]


def change(report: dict[str, Any], sequence: int, status: ReportStatus, at: datetime) -> Envelope:
    return Envelope.of(
        ReportStatusChangedV1(
            report_id=report["id"],
            sequence=sequence,
            status=status,
            changed_at=at,
            tracking_code=report["tracking_code"],
            category="moi-truong",
            title="Rác thải tồn đọng trước chợ",
            agency_code="SNNMT",
            agency_name="Sở Nông nghiệp và Môi trường",
        ),
        "routing",
        "c-order",
    )


def tracking_consumer(pool: asyncpg.Pool, bootstrap: str, topic: str, settings: Settings) -> ConsumerRunner:
    """Intake's tracking consumer, reading a topic of the test's own."""
    return ConsumerRunner(
        pool,
        Subscription(TRACKING, (topic,), tracking_handlers(make_vault(settings))),
        bootstrap,
        group_id=f"g-{uuid.uuid4()}",
        client_id="order-test",
        retry_backoff_seconds=0.01,
    )


async def test_a_late_status_event_cannot_move_a_report_backwards(
    client: Client, intake_settings: Settings, kafka_bootstrap: str, new_topic: Callable[..., Awaitable[str]]
) -> None:
    """in_progress (2) arrives before assigned (1): the report stays in_progress; the timeline keeps both in order."""
    resp = await client.post(
        "/api/v1/reports", json=pii.sample_report(), headers={"Idempotency-Key": str(uuid.uuid4())}
    )
    report = await resp.json()
    topic = await new_topic(partitions=1)
    now = datetime.now(UTC)
    newer = change(report, 2, ReportStatus.IN_PROGRESS, now)
    late = change(report, 1, ReportStatus.ASSIGNED, now - timedelta(minutes=5))
    key = report["id"].encode()
    # the late one really is behind the newer one on the partition the consumer reads in order
    await publish(kafka_bootstrap, topic, [newer.to_bytes(), late.to_bytes()], key=key)

    pool = await create_pool(intake_settings.database_url, intake_settings.db_schema)
    try:
        runner = tracking_consumer(pool, kafka_bootstrap, topic, intake_settings)

        async def both_applied() -> bool:
            return bool(await pool.fetchval("SELECT count(*) FROM report_timeline") == 3)

        async with running(runner):
            await wait_until(both_applied, 30)
        row = await pool.fetchrow("SELECT status, status_sequence FROM reports")
        applied = [r["status"] for r in await pool.fetch("SELECT status FROM report_timeline ORDER BY id")]
    finally:
        await pool.close()
    assert applied == ["submitted", "in_progress", "assigned"]  # the late event was handled, after the newer one
    assert (row["status"], row["status_sequence"]) == ("in_progress", 2)
    shown = await (
        await client.get(
            f"/api/v1/reports/{report['tracking_code']}", headers={"X-Tracking-Secret": report["tracking_secret"]}
        )
    ).json()
    assert shown["status"] == "in_progress"
    assert [t["status"] for t in shown["timeline"]] == ["submitted", "assigned", "in_progress"]


async def test_unknown_reports_types_and_versions_are_dead_lettered_and_the_partition_moves_on(
    client: Client, intake_settings: Settings, kafka_bootstrap: str, new_topic: Callable[..., Awaitable[str]]
) -> None:
    """Poison for intake lands in the DLQ with its reason, writes nothing, and the good event behind it is applied."""
    report = await (
        await client.post("/api/v1/reports", json=pii.sample_report(), headers={"Idempotency-Key": str(uuid.uuid4())})
    ).json()
    topic = await new_topic(partitions=1)  # one partition: the good event really is behind the poison
    stranger = change(
        {"id": str(uuid.uuid4()), "tracking_code": "PA-ZZZZZZZZ"}, 1, ReportStatus.ASSIGNED, datetime.now(UTC)
    )
    alien = Envelope(event_type="report.teleported", producer="x", correlation_id="c", data={})
    from_the_future = Envelope(**{**change(report, 1, ReportStatus.ASSIGNED, datetime.now(UTC)).model_dump(),
                                  "event_id": uuid.uuid4(), "schema_version": 2})  # fmt: skip
    good = change(report, 1, ReportStatus.ASSIGNED, datetime.now(UTC))
    await publish(kafka_bootstrap, topic, [e.to_bytes() for e in (stranger, alien, from_the_future, good)])
    pool = await create_pool(intake_settings.database_url, intake_settings.db_schema)
    try:
        runner = tracking_consumer(pool, kafka_bootstrap, topic, intake_settings)

        async def good_one_applied() -> bool:
            return bool(await pool.fetchval("SELECT status FROM reports") == "assigned")

        async with running(runner):
            await wait_until(good_one_applied, 30)
        assert await pool.fetchval("SELECT count(*) FROM report_timeline") == 2  # submitted, assigned: nothing else
    finally:
        await pool.close()
    errors = [dict(r.headers)["dlq.error"].decode() for r in await read_all(kafka_bootstrap, f"{topic}.dlq")]
    assert len(errors) == 3
    assert errors[0].startswith("LookupError")
    assert errors[1] == "unreadable event: unknown event type 'report.teleported'"
    assert errors[2] == "unreadable event: report.status_changed v2 is newer than this consumer reads (v1)"
