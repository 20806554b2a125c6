"""Connection pools: asyncpg, JSON codecs, the service's own schema first on the search path."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

CONNECT_TIMEOUT_SECONDS = 3.0
ACQUIRE_TIMEOUT_SECONDS = 5.0


async def _init_connection(conn: asyncpg.Connection) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


class BoundedPool(asyncpg.Pool):  # type: ignore[misc] # asyncpg ships no type hints, so its Pool is Any to mypy
    """A pool whose `acquire()` gives up after `acquire_timeout` unless the caller passes its own timeout.

    Why: with the database down, hanging or out of connections, a request must fail fast (the web middleware
    turns the TimeoutError into a 503) instead of waiting as long as the client does. The wait includes
    opening a new connection.
    """

    def __init__(self, *args: Any, acquire_timeout: float | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._acquire_timeout = acquire_timeout

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=self._acquire_timeout if timeout is None else timeout)


async def create_pool(
    dsn: str,
    schema: str | None = None,
    min_size: int = 1,
    max_size: int = 10,
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
    acquire_timeout: float | None = ACQUIRE_TIMEOUT_SECONDS,
) -> asyncpg.Pool:
    settings = {"search_path": schema} if schema else {}
    # asyncpg.create_pool would build a plain Pool; these are its defaults, passed to our subclass.
    pool = BoundedPool(
        dsn,
        acquire_timeout=acquire_timeout,
        min_size=min_size,
        max_size=max_size,
        max_queries=50000,
        max_inactive_connection_lifetime=300.0,
        loop=None,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        init=_init_connection,
        server_settings=settings,
        timeout=connect_timeout,
    )
    await pool
    return pool
