from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from portal.app import build_app
from portal.config import Settings


@pytest.fixture
async def portal_schema(service_schema: Callable[[str], Awaitable[str]]) -> str:
    return await service_schema("portal")


@pytest.fixture
def portal_settings(admin_dsn: str, portal_schema: str) -> Settings:
    """The portal against its own test schema; the services' URLs point nowhere unless a test says otherwise."""
    return Settings(
        database_url=admin_dsn,
        db_schema=portal_schema,
        cookie_secure=False,
        intake_url="http://127.0.0.1:9",
        routing_url="http://127.0.0.1:9",
        media_url="http://127.0.0.1:9",
        backend_timeout_seconds=2,
        session_keys="k1:" + base64.b64encode(os.urandom(32)).decode(),
    )


@pytest.fixture
def live_settings(portal_settings: Settings, platform: dict[str, Any]) -> Settings:
    """The portal's test settings pointing at the running services (`platform` starts them if need be)."""
    ports = platform["http_ports"]
    return portal_settings.model_copy(
        update={
            "intake_url": f"http://127.0.0.1:{ports['intake']}",
            "routing_url": f"http://127.0.0.1:{ports['routing']}",
            "media_url": f"http://127.0.0.1:{ports['media']}",
        }
    )


@pytest.fixture
async def portal(portal_settings: Settings) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(build_app(portal_settings))) as client:
        yield client
