"""The running PostgreSQL commits synchronously: a report answered 201 survives a crash of the server."""

from __future__ import annotations

from typing import Any

import asyncpg


async def test_every_session_commits_synchronously(stack: dict[str, Any]) -> None:
    """SHOW synchronous_commit is on for the admin and for every service's role, as devstack bootstrapped them."""
    dsns = [stack["admin_dsn"]] + [env[f"{name.upper()}_DATABASE_URL"] for name, env in stack["services"].items()]
    for dsn in dsns:
        conn = await asyncpg.connect(dsn)
        try:
            assert await conn.fetchval("SHOW synchronous_commit") == "on", dsn.partition("@")[2]
        finally:
            await conn.close()
