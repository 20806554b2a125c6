"""The agency API over HTTP against the real PostgreSQL: an agency's assignments need a staff token."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from paht_shared.auth import Role, generate_signing_key, mint_token, public_jwks
from routing.app import build_app
from routing.config import Settings
from routing.directory import load_reference_data

Client = TestClient[Any, Any]
SXD_REPORT = uuid.uuid4()
SYT_REPORT = uuid.uuid4()


@pytest.fixture
def signing_key() -> str:
    return generate_signing_key()


@pytest.fixture
async def settings(admin_dsn: str, service_schema: Callable[[str], Awaitable[str]], signing_key: str) -> Settings:
    """A routing schema with the reference agencies and one assignment each for SXD and SYT."""
    settings = Settings(
        database_url=admin_dsn,
        db_schema=await service_schema("routing"),
        auth_jwks=json.dumps(public_jwks(signing_key)),
    )
    await load_reference_data(settings)
    conn = await asyncpg.connect(admin_dsn, server_settings={"search_path": settings.db_schema})
    try:
        now = datetime.now(UTC)
        for report_id, agency in ((SXD_REPORT, "SXD"), (SYT_REPORT, "SYT")):
            await conn.execute(
                "INSERT INTO assignments (report_id, agency_code, category, ward_code, title, triage, status,"
                " assigned_at, due_at) VALUES ($1, $2, 'giao-thong', '31507', 'Ổ gà', false, 'assigned', $3, $4)",
                report_id,
                agency,
                now,
                now + timedelta(days=5),
            )
    finally:
        await conn.close()
    return settings


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    async with TestClient(TestServer(build_app(settings))) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def error_code(resp: Any) -> str:
    return str((await resp.json())["errors"][0]["code"])


async def test_agency_list_stays_public(client: Client) -> None:
    """Citizens' apps list agencies without logging in."""
    resp = await client.get("/api/v1/agencies")
    assert resp.status == 200
    assert "SXD" in {a["code"] for a in await resp.json()}


async def test_assignments_without_a_token_are_401(client: Client) -> None:
    """No token: 401 token_required with a Bearer challenge, and nothing of the queue."""
    resp = await client.get("/api/v1/agencies/SXD/assignments")
    assert resp.status == 401
    assert await error_code(resp) == "token_required"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


async def test_officer_of_another_agency_is_403(client: Client, signing_key: str) -> None:
    """A valid token of another agency's officer: 403, whatever the client adds to the request."""
    token = mint_token(signing_key, "officer.syt", Role.OFFICER, agency="SYT")
    for path in ("/api/v1/agencies/SXD/assignments", "/api/v1/agencies/sxd/assignments?agency=SYT"):
        resp = await client.get(path, headers=bearer(token))
        assert resp.status == 403
        assert await error_code(resp) == "forbidden"


async def test_officer_of_the_agency_and_coordinator_get_the_queue(client: Client, signing_key: str) -> None:
    """200 with exactly that agency's assignments for its own officer and for a coordinator."""
    officer = mint_token(signing_key, "officer.sxd", Role.OFFICER, agency="SXD")
    coordinator = mint_token(signing_key, "dieu.phoi", Role.COORDINATOR)
    for token in (officer, coordinator):
        resp = await client.get("/api/v1/agencies/SXD/assignments", headers=bearer(token))
        assert resp.status == 200, await resp.text()
        assert [a["report_id"] for a in await resp.json()] == [str(SXD_REPORT)]
    resp = await client.get("/api/v1/agencies/SYT/assignments", headers=bearer(coordinator))
    assert [a["report_id"] for a in await resp.json()] == [str(SYT_REPORT)]


async def test_hotline_operator_is_403(client: Client, signing_key: str) -> None:
    """Operators take calls; an agency's queue is not theirs to read."""
    token = mint_token(signing_key, "tong.dai", Role.OPERATOR, agency="SXD")
    resp = await client.get("/api/v1/agencies/SXD/assignments", headers=bearer(token))
    assert resp.status == 403


async def test_token_signed_by_an_unknown_key_or_expired_is_401(client: Client, signing_key: str) -> None:
    """Forged (right claims, wrong key) or expired: 401 invalid_token with the RFC 6750 challenge."""
    forged = mint_token(generate_signing_key(), "officer.sxd", Role.OFFICER, agency="SXD")
    impostor = mint_token(
        generate_signing_key(kid=json.loads(signing_key)["kid"]), "officer.sxd", Role.OFFICER, agency="SXD"
    )
    expired = mint_token(signing_key, "officer.sxd", Role.OFFICER, agency="SXD", ttl_seconds=-300)
    for token in (forged, impostor, expired, "garbage"):
        resp = await client.get("/api/v1/agencies/SXD/assignments", headers=bearer(token))
        assert resp.status == 401
        assert await error_code(resp) == "invalid_token"
        assert resp.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


async def test_without_a_jwks_the_queue_is_closed(settings: Settings, signing_key: str) -> None:
    """No JWKS configured: even a well-formed token gets 503 auth_not_configured, never the data."""
    unconfigured = settings.model_copy(update={"auth_jwks": ""})
    async with TestClient(TestServer(build_app(unconfigured))) as client:
        token = mint_token(signing_key, "dieu.phoi", Role.COORDINATOR)
        for headers in ({}, bearer(token)):
            resp = await client.get("/api/v1/agencies/SXD/assignments", headers=headers)
            assert resp.status == 503
            assert await error_code(resp) == "auth_not_configured"
        assert (await client.get("/api/v1/agencies")).status == 200
