"""The delivery log over HTTP against the real PostgreSQL: recipient addresses are for coordinators and admins."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from notify import repository
from notify.app import build_app
from notify.config import Settings
from notify.domain import PendingDelivery
from paht_shared.auth import Role, generate_signing_key, mint_token, public_jwks

Client = TestClient[Any, Any]
REPORT = uuid.uuid4()


@pytest.fixture
def signing_key() -> str:
    return generate_signing_key()


@pytest.fixture
async def client(
    admin_dsn: str, service_schema: Callable[[str], Awaitable[str]], signing_key: str
) -> AsyncIterator[Client]:
    """A notify schema holding one delivery of REPORT, and the API verifying tokens of `signing_key`."""
    schema = await service_schema("notify")
    conn = await asyncpg.connect(admin_dsn, server_settings={"search_path": schema})
    try:
        delivery = PendingDelivery(
            id=uuid.uuid4(),
            event_id=uuid.uuid4(),
            correlation_id="c",
            report_id=REPORT,
            channel="email",
            audience="agency",
            agency_code="SXD",
            recipient="sxd@paht.example",
            subject="[PAHT] Phản ánh mới",
            message_id="<m@paht.notify>",
            message=b"Subject: x\r\n\r\nx",
        )
        await repository.record_delivery(conn, delivery)
    finally:
        await conn.close()
    settings = Settings(database_url=admin_dsn, db_schema=schema, auth_jwks=json.dumps(public_jwks(signing_key)))
    async with TestClient(TestServer(build_app(settings))) as test_client:
        yield test_client


def deliveries(client: Client, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get(f"/api/v1/deliveries?report_id={REPORT}", headers=headers)


async def test_delivery_log_without_a_token_is_401(client: Client) -> None:
    """No token: 401 token_required, no addresses."""
    resp = await deliveries(client)
    assert resp.status == 401
    assert (await resp.json())["errors"][0]["code"] == "token_required"
    assert "sxd@paht.example" not in await resp.text()


async def test_officers_and_operators_are_403(client: Client, signing_key: str) -> None:
    """Even the agency's own officer may not read the log: it holds every recipient's address."""
    for token in (
        mint_token(signing_key, "officer.sxd", Role.OFFICER, agency="SXD"),
        mint_token(signing_key, "tong.dai", Role.OPERATOR),
    ):
        resp = await deliveries(client, token)
        assert resp.status == 403
        assert (await resp.json())["errors"][0]["code"] == "forbidden"


async def test_coordinator_and_admin_read_the_log(client: Client, signing_key: str) -> None:
    """200 with the report's deliveries."""
    for role in (Role.COORDINATOR, Role.ADMIN):
        resp = await deliveries(client, mint_token(signing_key, "dieu.phoi", role))
        assert resp.status == 200, await resp.text()
        assert [(d["channel"], d["recipient"]) for d in await resp.json()] == [("email", "sxd@paht.example")]


async def test_token_signed_by_an_unknown_key_is_401(client: Client) -> None:
    """A coordinator token from a key the service does not trust: 401 invalid_token."""
    resp = await deliveries(client, mint_token(generate_signing_key(), "dieu.phoi", Role.COORDINATOR))
    assert resp.status == 401
    assert (await resp.json())["errors"][0]["code"] == "invalid_token"


async def test_an_agency_chooses_digests_for_itself_only(client: Client, signing_key: str) -> None:
    """An officer sets their own agency's mode (200) but not another's (403); a bad mode is a 422."""
    officer = {"Authorization": "Bearer " + mint_token(signing_key, "officer.sxd", Role.OFFICER, agency="SXD")}
    url = "/api/v1/agencies/{}/notification-mode"
    resp = await client.put(url.format("SXD"), json={"mode": "twice_daily"}, headers=officer)
    assert (resp.status, await resp.json()) == (200, {"agency_code": "SXD", "mode": "twice_daily"})
    assert (await client.put(url.format("SYT"), json={"mode": "hourly"}, headers=officer)).status == 403
    bad = await client.put(url.format("SXD"), json={"mode": "weekly"}, headers=officer)
    assert (bad.status, (await bad.json())["errors"][0]["code"]) == (422, "invalid_mode")
