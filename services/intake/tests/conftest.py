from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from intake.app import build_app
from intake.config import Settings
from paht_shared.auth import generate_signing_key, public_jwks


@pytest.fixture
async def intake_schema(service_schema: Callable[[str], Awaitable[str]]) -> str:
    return await service_schema("intake")


@pytest.fixture
def intake_settings(admin_dsn: str, intake_schema: str) -> Settings:
    return Settings(
        database_url=admin_dsn,
        db_schema=intake_schema,
        pii_keys="k1:" + base64.b64encode(os.urandom(32)).decode(),
        blind_index_key=base64.b64encode(os.urandom(32)).decode(),
        # Tests send many reports from one address and one phone; the limits have tests of their own.
        submissions_per_phone_per_hour=1_000_000,
        submissions_per_ip_per_minute=1_000_000,
    )


@pytest.fixture
async def client(intake_settings: Settings) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(build_app(intake_settings))) as test_client:
        yield test_client


@pytest.fixture
def signing_key() -> str:
    """The key a test signs its staff tokens with (paht_shared.auth.mint_token)."""
    return generate_signing_key()


@pytest.fixture
def staff_settings(intake_settings: Settings, signing_key: str) -> Settings:
    """Intake's test settings, trusting staff tokens signed with `signing_key`."""
    return intake_settings.model_copy(update={"auth_jwks": json.dumps(public_jwks(signing_key))})


@pytest.fixture
async def staff_client(staff_settings: Settings) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """Intake in-process with staff tokens verified (the operator, admin and staff views)."""
    async with TestClient(TestServer(build_app(staff_settings))) as test_client:
        yield test_client
