"""The deadline watch: a worker of routing's consume process that marks overdue reports, reminds agencies
of deadlines a working day away, and moves the open reports of agencies that ceased to exist."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import asyncpg
import structlog

from paht_shared.failures import is_dependency_failure
from paht_shared.runtime import Stoppable
from routing.config import Settings
from routing.service import workflow_of
from routing.work import Workflow

log = structlog.get_logger("routing.deadlines")


class DeadlineWatch:
    """One pass every `deadline_check_seconds`; every pass is its own transactions, so a crash loses nothing
    (an unmarked overdue report is marked on the next pass, by this process or another one: SKIP LOCKED)."""

    def __init__(self, pool: asyncpg.Pool, workflow: Workflow, settings: Settings) -> None:
        self._pool = pool
        self._workflow = workflow
        self._interval = settings.deadline_check_seconds
        self._due_soon_days = settings.due_soon_working_days
        self._stopping = asyncio.Event()
        self.last_progress = time.monotonic()
        self.retrying_since: float | None = None

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.watch_once()
                self.retrying_since = None
            except Exception as exc:
                if not is_dependency_failure(exc):
                    raise
                self.retrying_since = self.retrying_since or time.monotonic()
                log.warning("deadline_watch_waiting", error=type(exc).__name__)
            self.last_progress = time.monotonic()
            with contextlib.suppress(TimeoutError):  # the interval passed: the next pass
                await asyncio.wait_for(self._stopping.wait(), timeout=self._interval)

    async def watch_once(self) -> tuple[int, int, int]:
        overdue, due_soon = await self._workflow.watch_deadlines(self._pool, self._due_soon_days)
        moved = await self._workflow.reroute_expired(self._pool)
        return overdue, due_soon, moved


def deadline_watch(settings: Settings) -> Callable[[asyncpg.Pool], list[Stoppable]]:
    """The `workers` factory for run_consumers."""

    def build(pool: asyncpg.Pool) -> list[Stoppable]:
        return [DeadlineWatch(pool, workflow_of(settings), settings)]

    return build
