"""pytest plugin: the real PostgreSQL, Kafka and S3 that `make test` started (see deploy/devstack.py).

Each test gets its own schema (dropped afterwards) and fresh topic names, so tests never see each
other's data.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from paht_shared.auth import Role, mint_token
from paht_shared.db import create_pool
from paht_shared.kafka import ensure_topics
from paht_shared.migrations import apply_migrations, service_migrations
from paht_shared.testing import pii


def _stack_file() -> Path:
    explicit = os.environ.get("PAHT_INFRA_DIR")
    if explicit:
        return Path(explicit) / "stack.json"
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        candidate = folder / ".infra" / "stack.json"
        if candidate.exists():
            return candidate
    raise FileNotFoundError("no .infra/stack.json: run `make test` (or `python deploy/devstack.py infra`) first")


def pytest_sessionstart() -> None:
    """Hand this session's personal data to the scan that `make test` runs after pytest."""
    try:
        infra = _stack_file().parent
    except FileNotFoundError:
        return  # no infrastructure (unit tests on a bare machine): nothing will be scanned
    pii.PERSON.save(infra / pii.VALUES_FILE)


@pytest.fixture(scope="session")
def stack() -> dict[str, Any]:
    """Where the running infrastructure is (written by devstack)."""
    return dict(json.loads(_stack_file().read_text()))


@pytest.fixture(scope="session")
def infra_dir(stack: dict[str, Any]) -> Path:
    return _stack_file().parent


def repository_root() -> Path:
    """The checkout pytest runs in (where deploy/devstack.py is)."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "deploy" / "devstack.py").exists():
            return folder
    raise FileNotFoundError("not inside the PAHT repository")


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="session")
def platform(stack: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The whole platform running as separate processes: `make run`, after stopping service processes left
    from an earlier run (they may run older code). Any suite that talks to the running services (end-to-end,
    the portal's pages) asks for it, so a fresh `make test` starts them before the first such test.

    Leaves the platform running if it was running before the tests; otherwise stops what it started.
    """
    root = repository_root()
    was_running = all(_ready(p) for p in stack["http_ports"].values())
    devstack = [str(root / ".venv/bin/python"), "deploy/devstack.py"]
    # our own commands, from the checkout: nothing here comes from input
    subprocess.run([*devstack, "services-down"], cwd=root, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
    subprocess.run(["make", "run"], cwd=root, check=True, stdout=subprocess.DEVNULL)  # noqa: S607
    yield dict(json.loads(_stack_file().read_text()))
    if not was_running:
        subprocess.run([*devstack, "services-down"], cwd=root, check=True, stdout=subprocess.DEVNULL)  # noqa: S603


@pytest.fixture
def staff_token(infra_dir: Path) -> Callable[..., str]:
    """Factory: a bearer token for a staff role, signed with the development key the running services trust."""
    signing_key = json.loads((infra_dir / "secrets.json").read_text())["auth_signing_key"]

    def mint(role: Role, agency: str | None = None) -> str:
        return mint_token(signing_key, f"e2e-{role.value}", role, agency)

    return mint


@pytest.fixture
def admin_dsn(stack: dict[str, Any]) -> str:
    return str(stack["admin_dsn"])


@pytest.fixture
def kafka_bootstrap(stack: dict[str, Any]) -> str:
    return str(stack["kafka_bootstrap"])


@pytest.fixture
async def test_schema(admin_dsn: str) -> AsyncIterator[str]:
    """A fresh schema with the shared outbox/inbox tables; dropped after the test."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"CREATE SCHEMA {schema}")
        await apply_migrations(admin_dsn, schema, None, conn=conn)
    finally:
        await conn.close()
    yield schema
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
    finally:
        await conn.close()


@pytest.fixture
async def db_pool(admin_dsn: str, test_schema: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(admin_dsn, test_schema, min_size=1, max_size=8)
    yield pool
    await pool.close()


@pytest.fixture
def new_topic(kafka_bootstrap: str) -> Callable[..., Awaitable[str]]:
    """Factory: a fresh topic (and its .dlq) that no other test uses."""

    async def make(prefix: str = "test", partitions: int = 3) -> str:
        name = f"{prefix}.{uuid.uuid4().hex[:10]}.v1"
        await ensure_topics(kafka_bootstrap, [name, f"{name}.dlq"], partitions)
        return name

    return make


@pytest.fixture
async def service_schema(admin_dsn: str) -> AsyncIterator[Callable[[str], Awaitable[str]]]:
    """Factory: a fresh schema with the shared tables and one service package's migrations; dropped afterwards."""
    created: list[str] = []

    async def make(package: str) -> str:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(f"CREATE SCHEMA {schema}")
            created.append(schema)
            await apply_migrations(admin_dsn, schema, service_migrations(package), conn=conn)
        finally:
            await conn.close()
        return schema

    yield make
    conn = await asyncpg.connect(admin_dsn)
    try:
        for schema in created:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")
    finally:
        await conn.close()
