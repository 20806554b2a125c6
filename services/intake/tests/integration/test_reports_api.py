"""The citizen API against the real PostgreSQL: submit, replay, validate, track."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from intake.app import make_vault
from intake.config import Settings
from intake.consumers import tracking_handlers
from paht_shared.contracts import ReportStatus, ReportStatusChangedV1
from paht_shared.envelope import Envelope
from paht_shared.testing import pii

Client = TestClient[Any, Any]


async def submit(client: Client, body: dict[str, Any] | None = None, key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key or str(uuid.uuid4())}
    return await client.post("/api/v1/reports", json=body or pii.sample_report(), headers=headers)


async def test_categories_and_wards_are_listed(client: Client) -> None:
    """The form's pick lists: categories as {code, name}; the tenant's wards include Phường Sóc Trăng."""
    categories = await (await client.get("/api/v1/categories")).json()
    assert {
        "code": "moi-truong",
        "name": "Môi trường (khác)",
        "field": "ve-sinh-moi-truong",
        "public_allowed": True,
    } in [{k: c[k] for k in ("code", "name", "field", "public_allowed")} for c in categories]
    wards = await (await client.get("/api/v1/wards")).json()
    assert {"code": "31507", "name": "Phường Sóc Trăng"} in wards
    assert len(wards) == 103


async def test_submit_stores_report_with_outbox_row_and_encrypted_reporter(
    client: Client, intake_settings: Settings
) -> None:
    """201 with id, tracking code and secret; personal data only as ciphertext; the event carries none."""
    resp = await submit(client)
    assert resp.status == 201
    body = await resp.json()
    assert set(body) >= {"id", "tracking_code", "tracking_secret"}
    conn = await asyncpg.connect(
        intake_settings.database_url, server_settings={"search_path": intake_settings.db_schema}
    )
    try:
        rows = []
        for table in ("reporters", "reports", "report_timeline", "idempotency_keys", "outbox"):
            rows.extend(await conn.fetch(f"SELECT * FROM {table}"))
        dump = " ".join(str(dict(r)) for r in rows)
        payloads = [bytes(r["payload"]).decode() for r in await conn.fetch("SELECT payload FROM outbox")]
        outbox_topics = [r["topic"] for r in await conn.fetch("SELECT topic FROM outbox")]
    finally:
        await conn.close()
    assert pii.find_leaks(dump) == []
    assert "84912345678" not in dump  # nor the normalised phone
    assert outbox_topics == ["report.submitted.v1"]
    event = Envelope.model_validate_json(payloads[0])
    assert event.data["report_id"] == body["id"]
    assert pii.find_leaks(payloads[0]) == []


async def test_retry_with_same_key_returns_the_same_report(client: Client, intake_settings: Settings) -> None:
    """Same Idempotency-Key and body: the first response again, and still one report and one event."""
    first = await submit(client, key="key-1")
    again = await submit(client, key="key-1")
    assert first.status == again.status == 201
    assert await first.json() == await again.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    other_body = pii.sample_report()
    other_body["title"] = "Một tiêu đề khác hẳn"
    conflict = await submit(client, body=other_body, key="key-1")
    assert conflict.status == 409
    assert (await conflict.json())["errors"][0]["code"] == "idempotency_key_reused"
    conn = await asyncpg.connect(
        intake_settings.database_url, server_settings={"search_path": intake_settings.db_schema}
    )
    try:
        assert await conn.fetchval("SELECT count(*) FROM reports") == 1
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 1
    finally:
        await conn.close()


async def test_concurrent_retries_create_one_report(client: Client, intake_settings: Settings) -> None:
    """Five simultaneous submissions with one key: one report, five identical answers."""
    responses = await asyncio.gather(*(submit(client, key="same-key") for _ in range(5)))
    bodies = [await r.json() for r in responses]
    assert all(r.status == 201 for r in responses)
    assert len({b["id"] for b in bodies}) == 1
    conn = await asyncpg.connect(
        intake_settings.database_url, server_settings={"search_path": intake_settings.db_schema}
    )
    try:
        assert await conn.fetchval("SELECT count(*) FROM reports") == 1
    finally:
        await conn.close()


async def test_client_mistakes_get_4xx_with_codes_and_store_nothing(client: Client, intake_settings: Settings) -> None:
    """Missing fields 422, bad JSON 400, unknown category/ward 422; nothing half-written."""
    missing = pii.sample_report()
    for field in ("title", "content", "category"):
        del missing[field]
    missing["location"] = {"address_text": "gần chợ"}
    del missing["reporter"]["phone"]  # type: ignore[attr-defined]
    resp = await submit(client, body=missing)
    assert resp.status == 422
    errors = (await resp.json())["errors"]
    assert {(e["field"], e["code"]) for e in errors} == {
        ("title", "missing"),
        ("content", "missing"),
        ("category", "missing"),
        ("location", "location_required"),
        ("reporter.phone", "missing"),
    }
    assert all(e["message"] for e in errors)
    text = await resp.text()
    assert pii.find_leaks(text) == []

    bad_json = await client.post("/api/v1/reports", data=b"{oops", headers={"Content-Type": "application/json"})
    assert bad_json.status == 400
    assert (await bad_json.json())["errors"][0]["code"] == "invalid_json"
    not_object = await client.post("/api/v1/reports", json=[1, 2])
    assert not_object.status == 400

    unknown = pii.sample_report(category="khong-co", ward_code="00001")
    resp = await submit(client, body=unknown)
    assert resp.status == 422
    assert {(e["field"], e["code"]) for e in (await resp.json())["errors"]} == {
        ("category", "unknown_category"),
        ("location.ward_code", "unknown_ward"),
    }
    too_big = await client.post(
        "/api/v1/reports",
        data=b"x" * (intake_settings.max_body_bytes + 10),
        headers={"Content-Type": "application/json"},
    )
    assert too_big.status == 413
    assert (await too_big.json())["errors"][0]["code"] == "payload_too_large"
    form = await client.post("/api/v1/reports", data={"title": "Rác thải tồn đọng"})
    assert form.status == 415
    assert (await form.json())["errors"][0]["code"] == "unsupported_media_type"
    for strange in (b"NaN", b'{"title": Infinity}', b"[" * 5000, b'{"n": ' + b"9" * 5000 + b"}", b"\xff\xfe"):
        resp = await client.post("/api/v1/reports", data=strange, headers={"Content-Type": "application/json"})
        assert resp.status == 400, strange[:20]

    conn = await asyncpg.connect(
        intake_settings.database_url, server_settings={"search_path": intake_settings.db_schema}
    )
    try:
        assert await conn.fetchval("SELECT count(*) FROM reports") == 0
        assert await conn.fetchval("SELECT count(*) FROM reporters") == 0
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
    finally:
        await conn.close()


async def test_tracking_needs_the_secret_and_shows_status_changes(client: Client, intake_settings: Settings) -> None:
    """Wrong or missing secret: no data; after a status event the page shows the agency and timeline."""
    created = await (await submit(client)).json()
    url = f"/api/v1/reports/{created['tracking_code']}"
    assert (await client.get(url)).status == 401
    assert (await client.get(url, headers={"X-Tracking-Secret": "wrong"})).status == 404
    assert (await client.get("/api/v1/reports/PA-NOPE2345", headers={"X-Tracking-Secret": "x"})).status == 404

    event = Envelope.of(
        ReportStatusChangedV1(
            report_id=created["id"],
            sequence=1,
            status=ReportStatus.ASSIGNED,
            changed_at=datetime.now(UTC),
            tracking_code=created["tracking_code"],
            category="moi-truong",
            title="Rác thải tồn đọng trước chợ",
            agency_code="SNNMT",
            agency_name="Sở Nông nghiệp và Môi trường",
            due_at=datetime.fromisoformat("2026-12-08T17:00:00+07:00"),
        ),
        "routing",
        "c",
    )
    conn = await asyncpg.connect(
        intake_settings.database_url, server_settings={"search_path": intake_settings.db_schema}
    )
    try:
        async with conn.transaction():
            await tracking_handlers(make_vault(intake_settings))(event, conn)
    finally:
        await conn.close()
    shown = await (await client.get(url.lower(), headers={"X-Tracking-Secret": created["tracking_secret"]})).json()
    assert shown["status"] == "assigned"
    assert shown["status_label"] == "Đã chuyển xử lý"
    assert shown["agency"] == {"code": "SNNMT", "name": "Sở Nông nghiệp và Môi trường"}
    assert [t["status"] for t in shown["timeline"]] == ["submitted", "assigned"]
    assert pii.find_leaks(str(shown)) == []


async def test_health_endpoints(client: Client, intake_settings: Settings) -> None:
    """healthz is up, readyz checks PostgreSQL and Kafka, metrics speaks Prometheus."""
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200, await ready.text()
    assert (await ready.json())["checks"] == {"postgres": "ok", "kafka": "ok"}
    await submit(client)
    metrics = await (await client.get("/metrics")).text()
    assert "paht_http_requests_total" in metrics
    # the report's event is still in the outbox: no relay runs in this test
    assert f'paht_outbox_pending{{schema="{intake_settings.db_schema}"}} 1.0' in metrics


async def test_personal_data_typed_into_the_title_stays_out_of_the_event(
    client: Client, intake_settings: Settings
) -> None:
    """A citizen who writes a phone or email into the title: the tracking page keeps it, the event does not."""
    body = pii.sample_report()
    body["title"] = f"Gọi {pii.PHONE} hoặc {pii.EMAIL} về rác"
    created = await (await submit(client, body=body)).json()
    conn = await asyncpg.connect(
        intake_settings.database_url, server_settings={"search_path": intake_settings.db_schema}
    )
    try:
        payload = bytes(await conn.fetchval("SELECT payload FROM outbox")).decode()
    finally:
        await conn.close()
    assert pii.find_leaks(payload) == []
    assert "[đã ẩn]" in Envelope.model_validate_json(payload).data["title"]
    shown = await (
        await client.get(
            f"/api/v1/reports/{created['tracking_code']}", headers={"X-Tracking-Secret": created["tracking_secret"]}
        )
    ).json()
    assert shown["title"] == body["title"]  # the reporter sees what they wrote
