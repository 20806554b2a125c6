"""Two routing processes in one consumer group, against the real broker and database: 2,000 reports, one of
the processes killed (-9) midway, and every report assigned exactly once."""

from __future__ import annotations

import asyncio
import collections
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from paht_shared.contracts import ReportSubmittedV1, topics
from paht_shared.envelope import Envelope
from paht_shared.kafka import make_producer
from paht_shared.testing.kafka import wait_until
from routing.config import Settings
from routing.directory import load_reference_data

REPORTS = 2000
WORKER = Path(__file__).with_name("routing_worker.py")
CATEGORIES = ("giao-thong", "moi-truong", "dien-chieu-sang", "cap-thoat-nuoc", "y-te", "khac")


def start_worker(settings: Settings, bootstrap: str, topic: str, group: str, log: Path) -> subprocess.Popen[bytes]:
    args = [sys.executable, str(WORKER), settings.database_url, settings.db_schema, bootstrap, topic, group]
    return subprocess.Popen(args, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=os.environ.copy())


def submitted(n: int) -> ReportSubmittedV1:
    return ReportSubmittedV1(
        report_id=uuid.uuid4(),
        tracking_code=f"PA-S{n:07d}",
        channel="web",
        category=CATEGORIES[n % len(CATEGORIES)],
        title="Phản ánh thử tải",
        ward_code="31507",
        submitted_at=datetime.now(UTC),
        public=False,
        anonymous=False,
    )


async def test_two_processes_assign_two_thousand_reports_exactly_once(
    admin_dsn: str,
    service_schema: Callable[[str], Awaitable[str]],
    kafka_bootstrap: str,
    new_topic: Callable[..., Awaitable[str]],
    tmp_path: Path,
) -> None:
    """Both processes take part (each logs assignments before the bulk is sent); the first is killed -9 with
    reports still waiting (its exit status proves it); the survivor takes its partitions over, and in the end
    there are exactly 2,000 assignments, 2,000 'assigned' status events and 2,000 inbox rows: redeliveries
    absorbed, none doubled."""
    settings = Settings(database_url=admin_dsn, db_schema=await service_schema("routing"))
    await load_reference_data(settings)
    topic = await new_topic(partitions=6)
    group = f"routing-scale-{uuid.uuid4().hex[:8]}"
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    workers = [start_worker(settings, kafka_bootstrap, topic, group, log) for log in logs]
    conn = await asyncpg.connect(admin_dsn, server_settings={"search_path": settings.db_schema})
    try:

        def assigned_by(log: Path) -> int:
            return sum(1 for line in log.read_text().splitlines() if '"report_status_changed"' in line)

        async def assigned_at_least(count: int) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                return bool(await conn.fetchval("SELECT count(*) FROM assignments") >= count)

            return check

        producer = make_producer(kafka_bootstrap, "scale-test")
        await producer.start()
        try:
            # In batches until both processes are assigning (the group has rebalanced onto both of them),
            # then the rest at once.
            sent = 0
            while sent < REPORTS:
                batch = 50 if not all(assigned_by(log) for log in logs) else REPORTS - sent
                for n in range(sent, sent + batch):
                    envelope = Envelope.of(submitted(n), "intake", f"scale-{n}")
                    await producer.send(topic, envelope.to_bytes(), key=envelope.data["report_id"].encode())
                await producer.flush()
                sent += batch
                if batch == 50:
                    await asyncio.sleep(0.5)
        finally:
            await producer.stop()
        assert all(assigned_by(log) for log in logs), "one process never got a partition"

        await wait_until(await assigned_at_least(min(sent, 1000)), 120)
        workers[0].send_signal(signal.SIGKILL)
        assert workers[0].wait(timeout=10) == -signal.SIGKILL  # the fault happened: the process is gone
        remaining = REPORTS - await conn.fetchval("SELECT count(*) FROM assignments")
        assert remaining > 0  # ... while reports were still waiting to be assigned
        await wait_until(await assigned_at_least(REPORTS), 180)
        await asyncio.sleep(3)  # anything redelivered after the kill has had time to arrive (and be refused)
        assignments = await conn.fetchval("SELECT count(DISTINCT report_id) FROM assignments")
        rows = await conn.fetchval("SELECT count(*) FROM assignments")
        status_events = await conn.fetch("SELECT payload FROM outbox WHERE topic = $1", topics.REPORT_STATUS_CHANGED)
        inbox = await conn.fetchval("SELECT count(*) FROM inbox")
    finally:
        await conn.close()
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=30)
    assert assignments == rows == REPORTS
    assigned = [json.loads(bytes(r["payload"]))["data"] for r in status_events]
    keys = collections.Counter(d["report_id"] for d in assigned if d["status"] == "assigned")
    assert len(keys) == REPORTS
    assert set(keys.values()) == {1}
    assert inbox == REPORTS
