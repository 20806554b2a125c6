"""The platform's background processes (relays, consumers, the media worker) stopped and started one by one,
so a measurement sees only the processes it is about; and a wait for the machine to be quiet between runs.

The stack itself is chaos's view of what devstack started (pid files, ports, the admin DSN)."""

from __future__ import annotations

import asyncio
import functools
import sys
import time
import uuid
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chaos.stack import Stack  # noqa: E402 - the repository root is not an installed package
from paht_devstack import processes  # noqa: E402 - chaos.stack put deploy/ on the path
from paht_devstack.services import WORKER_KINDS, declared_processes, service_env, worker_ports  # noqa: E402

__all__ = ["BACKGROUND", "Stack", "cpu_busy", "start", "stop", "wait_quiet"]

# Every relay, consumer and worker process, in declaration order (intake-relay, intake-consume, ...).
BACKGROUND = tuple(p.name for p in declared_processes() if p.kind in WORKER_KINDS)


def stop(stack: Stack, *names: str) -> None:
    """SIGTERM (each finishes its batch), in reverse order as `devstack down` does."""
    for name in reversed(names):
        processes.stop(stack.cfg, name)


async def start(stack: Stack, *names: str) -> None:
    """Start these processes as `devstack services-up` would (same environment and health port), and wait
    until each answers /readyz. devstack has no command to start one process, hence this mirror of it."""
    ports = worker_ports(stack.cfg)
    for name in names:
        if stack.pid(name) is not None:
            continue
        process = next(p for p in declared_processes() if p.name == name)
        env = service_env(stack.cfg, process.service)
        env[f"{process.service.prefix}_WORKER_HTTP_PORT"] = str(ports[name])
        processes.spawn(stack.cfg, name, [sys.executable, *process.python_args], env)
    for name in names:
        ready = functools.partial(processes.http_ok, f"http://127.0.0.1:{ports[name]}/readyz")
        await asyncio.to_thread(processes.wait_for, f"{name} /readyz", ready, 60)


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


async def cpu_busy(seconds: float = 1.0) -> float:
    """The machine's CPU use (0..1 of all cores) over the next `seconds`."""
    busy0, total0 = _cpu_times()
    await asyncio.sleep(seconds)
    busy1, total1 = _cpu_times()
    return (busy1 - busy0) / max(1, total1 - total0)


async def wait_quiet(limit: float = 120.0, below: float = 0.25) -> float:
    """Wait until the machine is quiet (CPU under `below` for two seconds running) so one run's backlog (the
    pipeline still draining, PostgreSQL checkpointing) does not slow the next; returns seconds waited."""
    began = time.monotonic()
    calm = 0
    while time.monotonic() - began < limit and calm < 2:
        calm = calm + 1 if await cpu_busy() < below else 0
    return time.monotonic() - began


async def until_none(conn: asyncpg.Connection, count_sql: str, ids: list[uuid.UUID], limit: float) -> None:
    """Poll `count_sql` (a count over `$1` = ids) every 0.5 s until it is 0 or `limit` seconds have passed."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and await conn.fetchval(count_sql, ids):  # noqa: ASYNC110 - polling the database
        await asyncio.sleep(0.5)
