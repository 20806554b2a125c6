"""Schemas, roles and migrations on the real PostgreSQL that devstack bootstrapped."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

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
    ]
