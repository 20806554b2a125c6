"""Connection pools: asyncpg, JSON codecs, the service's own schema first on the search path."""

from __future__ import annotations

import json

import asyncpg


async def _init_connection(conn: asyncpg.Connection) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(dsn: str, schema: str | None = None, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    settings = {"search_path": schema} if schema else {}
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, server_settings=settings
    )
    if pool is None:
        raise RuntimeError("asyncpg returned no pool")
    return pool
