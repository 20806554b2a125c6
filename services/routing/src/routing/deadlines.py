"""The deadline watch: a worker of routing's consume process that marks overdue reports, reminds agencies
of deadlines a working day away, and moves the open reports of agencies that ceased to exist."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
import structlog

from paht_shared.runtime import PeriodicWorker, Stoppable
from routing.config import Settings
from routing.service import workflow_of
from routing.work import Workflow

log = structlog.get_logger("routing.deadlines")


class DeadlineWatch(PeriodicWorker):
    """One pass every `deadline_check_seconds`; every pass is its own transactions, so a crash loses nothing
    (an unmarked overdue report is marked on the next pass, by this process or another one: SKIP LOCKED)."""

    name = "deadline_watch"

    def __init__(self, pool: asyncpg.Pool, workflow: Workflow, settings: Settings) -> None:
        super().__init__(settings.deadline_check_seconds)
        self._pool = pool
        self._workflow = workflow
        self._due_soon_days = settings.due_soon_working_days

    async def run_once(self) -> tuple[int, int, int]:
        return await self.watch_once()

    async def watch_once(self) -> tuple[int, int, int]:
        overdue, due_soon = await self._workflow.watch_deadlines(self._pool, self._due_soon_days)
        moved = await self._workflow.reroute_expired(self._pool)
        return overdue, due_soon, moved


def deadline_watch(settings: Settings) -> Callable[[asyncpg.Pool], list[Stoppable]]:
    """The `workers` factory for run_consumers."""

    def build(pool: asyncpg.Pool) -> list[Stoppable]:
        return [DeadlineWatch(pool, workflow_of(settings), settings)]

    return build
