"""Forward-only plain-SQL migrations, one schema per service.

Why our own runner and not Alembic/yoyo: each service owns one schema and writes plain SQL; what we need is
"apply the files not yet applied, in order, each in its own transaction, one runner at a time", which is
thirty lines. The shared outbox/inbox tables come first, from this package.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

import asyncpg

SHARED_PREFIX = "shared/"


def _shared_files() -> list[tuple[str, str]]:
    folder = resources.files("paht_shared") / "migrations"
    return sorted(
        (SHARED_PREFIX + f.name, f.read_text(encoding="utf-8")) for f in folder.iterdir() if f.name.endswith(".sql")
    )


def service_migrations(package: str) -> Traversable:
    """The migrations a service ships inside its package (`<package>/migrations/*.sql`)."""
    return resources.files(package) / "migrations"


def _service_files(folder: Traversable) -> list[tuple[str, str]]:
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name, f.read_text(encoding="utf-8")) for f in files]


async def apply_migrations(
    dsn: str, schema: str, folder: Traversable | None, conn: asyncpg.Connection | None = None
) -> list[str]:
    """Apply pending migrations to `schema`; returns the names applied. Safe to run concurrently."""
    own = conn is None
    if conn is None:
        conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'SET search_path = "{schema}"')
        # One migrator at a time per schema (two `make run`s, several replicas starting).
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"paht-migrations-{schema}")
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
            applied = []
            files = _shared_files() + (_service_files(folder) if folder else [])
            for name, sql in files:
                if name in done:
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
                applied.append(name)
            return applied
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"paht-migrations-{schema}")
    finally:
        if own:
            await conn.close()
