"""The audit log on the real PostgreSQL: append-only for every role, and a hash chain that names tampering."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import uuid

import asyncpg
import pytest

from paht_shared import audit
from paht_shared.audit import GENESIS, AuditEntry

REPORT = uuid.UUID("0b6d3f1e-8c1a-4f0e-9a57-3d2b1c0e9f11")


def entry(n: int) -> AuditEntry:
    return AuditEntry(
        actor=f"officer.{n}",
        actor_role="officer",
        action="identity_viewed",
        actor_agency="SNNMT",
        report_id=REPORT,
        subject="reporter",
        reason=f"Gọi lại cho người phản ánh để xác minh vị trí, lần {n}",
    )


async def append_many(pool: asyncpg.Pool, count: int) -> list[int]:
    """`count` appends, each in its own transaction, as a service makes them; returns their ids."""
    ids = []
    for n in range(count):
        async with pool.acquire() as conn, conn.transaction():
            ids.append(await audit.append(conn, entry(n)))
    return ids


async def verify(pool: asyncpg.Pool) -> audit.AuditCheck:
    async with pool.acquire() as conn:
        return await audit.verify(conn)


async def as_superuser_without_trigger(pool: asyncpg.Pool, sql: str, *args: object) -> None:
    """What only someone above the trigger can do: disable it, change the log, enable it again."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        await conn.execute(sql, *args)
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")


async def test_a_chain_of_appends_verifies(db_pool: asyncpg.Pool) -> None:
    """50 appends make a linear chain from 32 zero bytes; verify checks every row and reports the head."""
    ids = await append_many(db_pool, 50)
    assert ids == sorted(ids)
    assert len(set(ids)) == 50

    check = await verify(db_pool)

    assert check.ok
    assert (check.rows, check.first_broken_id, check.reason) == (50, None, None)
    rows = await db_pool.fetch("SELECT id, prev_hash, hash, at FROM audit_log ORDER BY id")
    assert bytes(rows[0]["prev_hash"]) == GENESIS
    assert all(bytes(later["prev_hash"]) == bytes(earlier["hash"]) for earlier, later in itertools.pairwise(rows))
    assert (check.head_id, check.head_hash) == (rows[-1]["id"], bytes(rows[-1]["hash"]))
    # clock_timestamp() has microseconds: the chain verifying proves they survive the round trip
    assert any(r["at"].microsecond for r in rows)


async def test_an_empty_log_verifies(db_pool: asyncpg.Pool) -> None:
    """No rows: nothing to check, nothing broken, no head."""
    check = await verify(db_pool)
    assert (check.ok, check.rows, check.head_id, check.head_hash) == (True, 0, None, None)


async def test_update_delete_and_truncate_are_refused(db_pool: asyncpg.Pool) -> None:
    """Even the superuser the pool connects as cannot change or remove a row while the trigger is on."""
    ids = await append_many(db_pool, 3)
    before = await db_pool.fetch("SELECT * FROM audit_log ORDER BY id")

    with pytest.raises(asyncpg.RaiseError, match="append-only: UPDATE refused"):
        await db_pool.execute("UPDATE audit_log SET reason = 'sửa lại' WHERE id = $1", ids[1])
    with pytest.raises(asyncpg.RaiseError, match="append-only: DELETE refused"):
        await db_pool.execute("DELETE FROM audit_log WHERE id = $1", ids[1])
    with pytest.raises(asyncpg.RaiseError, match="append-only: TRUNCATE refused"):
        await db_pool.execute("TRUNCATE audit_log")

    assert await db_pool.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    assert await db_pool.fetch("SELECT * FROM audit_log ORDER BY id") == before
    assert (await verify(db_pool)).ok


async def test_a_changed_row_is_a_hash_mismatch(db_pool: asyncpg.Pool) -> None:
    """A superuser disables the trigger and rewrites a past reason: verify names exactly that row."""
    ids = await append_many(db_pool, 30)
    await as_superuser_without_trigger(
        db_pool, "UPDATE audit_log SET reason = 'Kiểm tra định kỳ theo kế hoạch' WHERE id = $1", ids[19]
    )

    check = await verify(db_pool)

    assert (check.ok, check.first_broken_id, check.reason, check.rows) == (False, ids[19], "hash mismatch", 20)
    assert check.head_hash is None


async def test_a_row_rewritten_with_a_fresh_hash_breaks_the_next_link(db_pool: asyncpg.Pool) -> None:
    """Someone who knows the algorithm rehashes the row they changed: the next row no longer links to it."""
    ids = await append_many(db_pool, 10)
    target = dict(await db_pool.fetchrow("SELECT * FROM audit_log WHERE id = $1", ids[4]))
    target["actor"] = "someone.else"
    forged = audit.row_hash(bytes(target["prev_hash"]), target)
    await as_superuser_without_trigger(
        db_pool, "UPDATE audit_log SET actor = $2, hash = $3 WHERE id = $1", ids[4], "someone.else", forged
    )

    check = await verify(db_pool)

    assert (check.first_broken_id, check.reason) == (ids[5], "broken link")


async def test_a_deleted_row_is_a_gap(db_pool: asyncpg.Pool) -> None:
    """A row removed from the middle: the row after it links to nothing that exists, and ids are missing."""
    ids = await append_many(db_pool, 50)
    await as_superuser_without_trigger(db_pool, "DELETE FROM audit_log WHERE id = $1", ids[24])

    check = await verify(db_pool)

    assert (check.first_broken_id, check.reason, check.rows) == (ids[25], "gap", 25)


async def test_deleted_first_rows_are_a_gap(db_pool: asyncpg.Pool) -> None:
    """The oldest rows removed: the first remaining row does not start from the zero hash."""
    ids = await append_many(db_pool, 5)
    await as_superuser_without_trigger(db_pool, "DELETE FROM audit_log WHERE id <= $1", ids[1])

    check = await verify(db_pool)

    assert (check.first_broken_id, check.reason) == (ids[2], "gap")


async def test_a_rolled_back_append_leaves_no_break(db_pool: asyncpg.Pool) -> None:
    """An append rolls back with its transaction; the id it drew stays unused and the chain stays whole."""

    async def failed_work(conn: asyncpg.Connection) -> None:
        async with conn.transaction():
            await audit.append(conn, entry(99))
            raise ZeroDivisionError  # the work the row records failed

    await append_many(db_pool, 2)
    async with db_pool.acquire() as conn:
        with pytest.raises(ZeroDivisionError):
            await failed_work(conn)
    await append_many(db_pool, 2)

    check = await verify(db_pool)

    assert check.ok
    assert check.rows == 4
    ids = [r["id"] for r in await db_pool.fetch("SELECT id FROM audit_log ORDER BY id")]
    assert ids[-1] - ids[0] == 4  # five ids drawn, four rows: the rolled-back one left a hole


async def test_concurrent_appends_stay_one_linear_chain(admin_dsn: str, test_schema: str) -> None:
    """Ten connections append at once, inside transactions that overlap: still one chain, every row in it."""
    connections = [await asyncpg.connect(admin_dsn, server_settings={"search_path": test_schema}) for _ in range(10)]
    start = asyncio.Event()

    async def writer(conn: asyncpg.Connection, n: int) -> list[int]:
        await start.wait()
        ids = []
        for i in range(10):
            async with conn.transaction():
                ids.append(await audit.append(conn, entry(n * 100 + i)))
                await conn.execute("SELECT pg_sleep(0.002)")  # hold the lock a moment, so others queue behind it
        return ids

    try:
        tasks = [asyncio.create_task(writer(conn, n)) for n, conn in enumerate(connections)]
        await asyncio.sleep(0.05)
        start.set()
        written = [i for ids in await asyncio.gather(*tasks) for i in ids]
        check = await audit.verify(connections[0])
        links = await connections[0].fetchval("SELECT count(DISTINCT prev_hash) FROM audit_log")
    finally:
        for conn in connections:
            await conn.close()

    assert len(set(written)) == 100
    assert (check.ok, check.rows, check.head_id) == (True, 100, max(written))
    assert links == 100


async def test_append_outside_a_transaction_raises(db_pool: asyncpg.Pool) -> None:
    """An audit row must commit or roll back with what it records: without a transaction nothing is written."""
    async with db_pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="inside the transaction"):
            await audit.append(conn, entry(1))
    assert await db_pool.fetchval("SELECT count(*) FROM audit_log") == 0


async def test_append_in_a_repeatable_read_transaction_raises(db_pool: asyncpg.Pool) -> None:
    """A snapshot older than the lock could miss the last row and fork the chain: refused up front."""
    await append_many(db_pool, 1)
    async with db_pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="READ COMMITTED"):
            async with conn.transaction(isolation="repeatable_read"):
                await audit.append(conn, entry(2))
    assert await db_pool.fetchval("SELECT count(*) FROM audit_log") == 1


def run_verify(dsn: str, schema: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paht_shared", "audit", "verify", "--dsn", dsn, "--schema", schema],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_cli_reports_ok_then_the_broken_row(db_pool: asyncpg.Pool, admin_dsn: str, test_schema: str) -> None:
    """`python -m paht_shared audit verify` exits 0 with the head, then 1 naming the changed row."""
    ids = await append_many(db_pool, 5)
    head = await db_pool.fetchval("SELECT hash FROM audit_log WHERE id = $1", ids[-1])

    intact = await asyncio.to_thread(run_verify, admin_dsn, test_schema)
    assert intact.returncode == 0, intact.stderr
    assert "5 row(s) checked, OK" in intact.stdout
    assert bytes(head).hex() in intact.stdout

    await as_superuser_without_trigger(db_pool, "UPDATE audit_log SET action = 'nothing' WHERE id = $1", ids[2])
    broken = await asyncio.to_thread(run_verify, admin_dsn, test_schema)
    assert broken.returncode == 1
    assert f"BROKEN at id {ids[2]}: hash mismatch (3 row(s) checked)" in broken.stdout
