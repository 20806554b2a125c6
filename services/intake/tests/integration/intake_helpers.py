"""What the intake integration tests share: submitting, tracking, and routing's status changes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from intake.app import make_vault
from intake.config import Settings
from intake.consumers import tracking_handlers
from paht_shared.contracts import ReportStatus, ReportStatusChangedV1
from paht_shared.envelope import Envelope, utc_now
from paht_shared.testing import pii

Client = TestClient[Any, Any]


async def submit(client: Client, body: dict[str, Any] | None = None, key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key or str(uuid.uuid4())}
    return await client.post("/api/v1/reports", json=body or pii.sample_report(), headers=headers)


async def submitted(client: Client, body: dict[str, Any] | None = None) -> dict[str, Any]:
    resp = await submit(client, body)
    assert resp.status == 201, await resp.text()
    created: dict[str, Any] = await resp.json()
    return created


async def track(client: Client, created: dict[str, Any], secret: str | None = None) -> Any:
    return await client.get(
        f"/api/v1/reports/{created['tracking_code']}",
        headers={"X-Tracking-Secret": secret or created["tracking_secret"]},
    )


async def act(client: Client, created: dict[str, Any], action: str, body: dict[str, Any]) -> Any:
    return await client.post(
        f"/api/v1/reports/{created['tracking_code']}/{action}",
        json=body,
        headers={"X-Tracking-Secret": created["tracking_secret"]},
    )


async def connect(settings: Settings) -> asyncpg.Connection:
    return await asyncpg.connect(settings.database_url, server_settings={"search_path": settings.db_schema})


async def routing_says(
    settings: Settings,
    created: dict[str, Any],
    sequence: int,
    status: ReportStatus,
    message: str | None = None,
    due_at: datetime | None = None,
    changed_at: datetime | None = None,
) -> None:
    """Apply one status change as routing would publish it, through intake's tracking handler."""
    event = Envelope.of(
        ReportStatusChangedV1(
            report_id=created["id"],
            sequence=sequence,
            status=status,
            changed_at=changed_at or utc_now(),
            tracking_code=created["tracking_code"],
            category="moi-truong",
            title="Rác thải tồn đọng trước chợ",
            agency_code="SNNMT",
            agency_name="Sở Nông nghiệp và Môi trường",
            due_at=due_at,
            message=message,
        ),
        "routing",
        "c-test",
    )
    conn = await connect(settings)
    try:
        async with conn.transaction():
            await tracking_handlers(make_vault(settings))(event, conn)
    finally:
        await conn.close()


async def outbox_events(settings: Settings, topic: str) -> list[Envelope]:
    conn = await connect(settings)
    try:
        rows = await conn.fetch("SELECT payload FROM outbox WHERE topic = $1 ORDER BY id", topic)
    finally:
        await conn.close()
    return [Envelope.model_validate_json(bytes(r["payload"])) for r in rows]


async def audit_rows(settings: Settings) -> list[asyncpg.Record]:
    """The audit log of the test's schema, oldest first."""
    conn = await connect(settings)
    try:
        return list(await conn.fetch("SELECT * FROM audit_log ORDER BY id"))
    finally:
        await conn.close()
