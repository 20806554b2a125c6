"""Schemas, roles and migrations on the real PostgreSQL that devstack bootstrapped."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from paht_shared.db import create_pool
from paht_shared.migrations import apply_migrations

SERVICES = ("intake", "routing", "notify", "media")


@pytest.mark.parametrize("service", SERVICES)
async def test_service_role_cannot_read_another_services_schema(service: str, stack: dict[str, Any]) -> None:
    """Each role uses only its own schema: reading any other one is a permission error."""
    dsn = stack["services"][service][f"{service.upper()}_DATABASE_URL"]
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT count(*) >= 0 FROM outbox")  # its own schema works
        for other in SERVICES:
            if other == service:
                continue
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch(f"SELECT * FROM {other}.outbox LIMIT 1")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE public.sneaky (x int)")
    finally:
        await conn.close()


async def test_migrations_apply_once(admin_dsn: str, test_schema: str) -> None:
    """Running the migrator again applies nothing (the fixture already applied the shared ones)."""
    assert await apply_migrations(admin_dsn, test_schema, None) == []
    conn = await asyncpg.connect(admin_dsn)
    try:
        names = await conn.fetch(f"SELECT name FROM {test_schema}.schema_migrations")
    finally:
        await conn.close()
    assert [r["name"] for r in names] == [
        "shared/0001_outbox_inbox.sql",
        "shared/0002_outbox_buckets.sql",
        "shared/0003_outbox_parking.sql",
        "shared/0004_audit_log.sql",
    ]


async def test_waiting_for_a_pooled_connection_is_bounded(admin_dsn: str, test_schema: str) -> None:
    """With every connection taken (or the database unreachable) a request fails fast instead of hanging."""
    pool = await create_pool(admin_dsn, test_schema, min_size=1, max_size=1, acquire_timeout=0.2)
    try:
        async with pool.acquire():
            async with asyncio.timeout(30):  # a hang fails the test instead of blocking the run
                with pytest.raises(TimeoutError):
                    await pool.fetchval("SELECT 1")
        assert await pool.fetchval("SELECT 1") == 1  # the pool is fine once a connection is free again
    finally:
        await pool.close()
