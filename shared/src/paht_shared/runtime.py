"""Process entry points: a worker (relay, consumer) stops cleanly on SIGTERM/SIGINT; readiness checks."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Protocol

import asyncpg
import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware

from paht_shared.auth import AUTH_VERIFIER, TokenVerifier, auth_middleware
from paht_shared.consumer import ConsumerRunner, Subscription
from paht_shared.db import create_pool
from paht_shared.failures import is_dependency_failure
from paht_shared.logging import configure_logging
from paht_shared.migrations import apply_migrations, service_migrations
from paht_shared.outbox import OutboxRelay, observe_backlog
from paht_shared.settings import ServiceSettings
from paht_shared.web import METRICS_REFRESHERS, READINESS_CHECKS, ReadinessCheck, new_app

log = structlog.get_logger("paht.runtime")


class Stoppable(Protocol):
    last_progress: float  # time.monotonic() of the worker's last loop turn

    def stop(self) -> None: ...

    async def run(self) -> None: ...


STALL_SECONDS = 120.0  # a relay or consumer loop turns at least every few seconds, even when idle or waiting


class PeriodicWorker:
    """A worker of a consume process that does one pass every `interval` seconds (a deadline watch, a
    retention sweep, a digest): it waits out what `waits_for` says is a dependency being away (and shows since
    when in `retrying_since`, which /readyz reads), and stops between passes. Subclasses write `run_once`."""

    name = "periodic"

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._stopping = asyncio.Event()
        self.last_progress = time.monotonic()
        self.retrying_since: float | None = None

    async def run_once(self) -> object:
        raise NotImplementedError

    def waits_for(self, exc: Exception) -> bool:
        """Whether `exc` means a dependency is away (wait and try again) rather than a bug (stop)."""
        return is_dependency_failure(exc)

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.run_once()
                self.retrying_since = None
            except Exception as exc:
                if not self.waits_for(exc):
                    raise
                self.retrying_since = self.retrying_since or time.monotonic()
                log.warning(f"{self.name}_waiting", error=type(exc).__name__)
            self.last_progress = time.monotonic()
            with contextlib.suppress(TimeoutError):  # the interval passed: the next pass
                await asyncio.wait_for(self._stopping.wait(), timeout=self._interval)


def workers_progressing(workers: list[Stoppable]) -> ReadinessCheck:
    async def check() -> None:
        stalled = [w for w in workers if time.monotonic() - w.last_progress > STALL_SECONDS]
        if stalled:
            raise TimeoutError(f"{len(stalled)} worker loop(s) stalled")

    return check


class ConsumerStuck(Exception):
    """A consumer has been retrying one record's dependency failure for too long: its partition does not move."""


def consumers_not_stuck(workers: list[Stoppable], stuck_seconds: float) -> ReadinessCheck:
    """Fails while a consumer retries a dependency failure (database down) for longer than `stuck_seconds`.

    Its loop still turns (it waits on purpose), so `workers_progressing` stays green; this check does not.
    """

    async def check() -> None:
        now = time.monotonic()
        stuck = [w for w in workers if (since := getattr(w, "retrying_since", None)) and now - since > stuck_seconds]
        if stuck:
            raise ConsumerStuck(f"{len(stuck)} consumer(s) retrying a dependency failure for over {stuck_seconds} s")

    return check


async def serve_worker_http(settings: ServiceSettings, workers: list[Stoppable]) -> web.AppRunner | None:
    """/healthz, /readyz (loops turning, no consumer stuck on a dependency) and /metrics of a relay or consumer
    process, if it has a port."""
    if not settings.worker_http_port:
        return None
    app = new_app()
    app[READINESS_CHECKS]["workers"] = workers_progressing(workers)
    app[READINESS_CHECKS]["consumers"] = consumers_not_stuck(workers, settings.consumer_stuck_seconds)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.http_host, settings.worker_http_port).start()
    log.info("worker_http_listening", port=settings.worker_http_port)
    return runner


async def run_until_signalled(workers: list[Stoppable], settings: ServiceSettings | None = None) -> None:
    """Run workers until SIGTERM/SIGINT, then ask each to stop and wait for it to finish its batch."""
    http = await serve_worker_http(settings, workers) if settings else None

    def stop_all() -> None:
        for worker in workers:
            worker.stop()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_all)
    tasks = [asyncio.create_task(w.run()) for w in workers]
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    for task in done:
        if task.exception() is not None:
            stop_all()
    try:
        await asyncio.gather(*tasks)
    finally:
        if http is not None:
            await http.cleanup()


def open_pool(settings: ServiceSettings, schema: str, min_size: int, max_size: int) -> Awaitable[asyncpg.Pool]:
    """The process's pool, with the connect and acquire bounds that turn an outage into fast failures."""
    return create_pool(
        settings.database_url,
        schema,
        min_size,
        max_size,
        connect_timeout=settings.db_connect_timeout_seconds,
        acquire_timeout=settings.db_acquire_timeout_seconds,
    )


async def run_relay(settings: ServiceSettings, schema: str) -> None:
    pool = await open_pool(settings, schema, min_size=2, max_size=4)
    try:
        relay = OutboxRelay(
            pool,
            schema,
            settings.kafka_bootstrap,
            client_id=f"{settings.service_name}-relay",
            batch_size=settings.outbox_batch_size,
            poll_seconds=settings.outbox_poll_seconds,
            send_timeout_seconds=settings.kafka_send_timeout_seconds,
            outbox_retention_days=settings.outbox_retention_days,
            inbox_retention_days=settings.inbox_retention_days,
            max_attempts=settings.outbox_max_attempts,
            retry_backoff_seconds=settings.outbox_retry_backoff_seconds,
        )
        await run_until_signalled([relay], settings)
    finally:
        await pool.close()


async def run_consumers(
    settings: ServiceSettings,
    schema: str,
    subscriptions: list[Subscription],
    workers: Callable[[asyncpg.Pool], list[Stoppable]] | None = None,
) -> None:
    """The subscriptions' consumers, plus any other `workers` the service runs beside them on the same pool
    (notify's sender); they share the process's signals, readiness and metrics."""
    pool = await open_pool(settings, schema, min_size=1, max_size=settings.db_pool_max)
    try:
        runners: list[Stoppable] = [
            ConsumerRunner(
                pool,
                sub,
                settings.kafka_bootstrap,
                group_id=sub.name,  # names are already service-qualified
                client_id=f"{settings.service_name}-{sub.name}",
                max_attempts=settings.consumer_max_attempts,
                retry_backoff_seconds=settings.consumer_retry_backoff_seconds,
            )
            for sub in subscriptions
        ]
        if workers is not None:
            runners.extend(workers(pool))
        await run_until_signalled(runners, settings)
    finally:
        await pool.close()


def run_http(app: web.Application, settings: ServiceSettings) -> None:
    log.info("http_listening", host=settings.http_host, port=settings.http_port)
    web.run_app(app, host=settings.http_host, port=settings.http_port, print=None, access_log=None)


def postgres_ready(pool_getter: Callable[[], asyncpg.Pool]) -> ReadinessCheck:
    async def check() -> None:
        await pool_getter().fetchval("SELECT 1")

    return check


def kafka_ready(bootstrap: str) -> ReadinessCheck:
    """The broker accepts connections (a metadata call per probe would load the broker for nothing)."""

    async def check() -> None:
        host, _, port = bootstrap.split(",", maxsplit=1)[0].strip().rpartition(":")
        _, writer = await asyncio.open_connection(host, int(port))
        writer.close()
        await writer.wait_closed()

    return check


def watch_outbox(app: web.Application, pool_getter: Callable[[], asyncpg.Pool], schema: str) -> None:
    """Expose the service's outbox backlog on its /metrics."""

    async def refresh() -> None:
        await observe_backlog(pool_getter(), schema)

    app[METRICS_REFRESHERS].append(refresh)


DB_POOL: web.AppKey[asyncpg.Pool] = web.AppKey("db_pool", asyncpg.Pool)


def service_app(
    settings: ServiceSettings,
    client_max_size: int = 1024**2,
    uses_kafka: bool = True,
    has_outbox: bool = True,
    middlewares: Iterable[Middleware] = (),
) -> web.Application:
    """An API application with its database pool (opened at start-up), readiness checks and outbox metrics.

    Staff bearer tokens are verified against `settings.auth_jwks` before the service's own `middlewares`
    run, so those (and every handler) can read the caller's identity.
    """
    verifier = TokenVerifier.from_settings(settings)
    app = new_app(client_max_size=client_max_size, middlewares=[auth_middleware(verifier), *middlewares])
    if verifier is not None:
        app[AUTH_VERIFIER] = verifier

    async def database(app: web.Application) -> AsyncIterator[None]:
        app[DB_POOL] = await open_pool(settings, settings.db_schema, settings.db_pool_min, settings.db_pool_max)
        yield
        await app[DB_POOL].close()

    app.cleanup_ctx.append(database)
    app[READINESS_CHECKS]["postgres"] = postgres_ready(lambda: app[DB_POOL])
    if uses_kafka:
        app[READINESS_CHECKS]["kafka"] = kafka_ready(settings.kafka_bootstrap)
    if has_outbox:
        watch_outbox(app, lambda: app[DB_POOL], settings.db_schema)
    return app


async def migrate(settings: ServiceSettings, package: str) -> None:
    """Apply the shared tables and the migrations the service's package ships, to its own schema."""
    applied = await apply_migrations(settings.database_url, settings.db_schema, service_migrations(package))
    log.info("migrations_applied", schema=settings.db_schema, applied=applied)


def service_main(service: str, settings: ServiceSettings, commands: dict[str, Callable[[], object]]) -> None:
    """`python -m <service> <command>`: every service has `migrate`, plus the process types it declares."""
    every = {"migrate": lambda: asyncio.run(migrate(settings, service)), **commands}
    command = sys.argv[1] if len(sys.argv) > 1 else "api"
    if command not in every:
        raise SystemExit(f"usage: python -m {service} {'|'.join(every)}")
    configure_logging(f"{service}-{command}", settings.log_level, settings.log_json)
    every[command]()
