"""Intake's submissions at 64 connections (wrk, closed loop) beside their ceilings on the same machine: the
bare insert of the same rows (benchmarks/ceiling.py insert) and a bare JSON echo (ceiling.py echo).

All three get the same requests (benchmarks/wrk/submit.lua: a new report with its own Idempotency-Key, phone
and forwarded address each time), a warm-up, then BENCH_SECONDS (default 60) of load. The platform's relays
and consumers are stopped meanwhile (bench.py), so each run has the machine to itself and PostgreSQL:
intake's events wait in its outbox, where the relay bench picks them up.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

from benchmarks.results import ROOT, Section, Target, seconds_setting
from benchmarks.workers import Stack, wait_quiet
from benchmarks.wrk_submit import CONNECTIONS, WARMUP_SECONDS, WrkResult, http_json, run_wrk, stored_reports
from paht_devstack import processes

INTAKE_SHARE = Target(">=", 0.70)  # of the bare insert's rate
INTAKE_P99_MS = Target("<=", 60.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def ceiling_app(kind: str, admin_dsn: str) -> Iterator[str]:
    """benchmarks/ceiling.py <kind> on a free port for the duration; yields its base URL."""
    port = free_port()
    argv = [sys.executable, "-m", "benchmarks.ceiling", kind, "--port", str(port), "--dsn", admin_dsn]
    app = subprocess.Popen(argv, cwd=ROOT)  # noqa: S603 - our own interpreter and module
    try:
        processes.wait_for(f"ceiling {kind}", lambda: app.poll() is None and processes.port_open(port), 30)
        yield f"http://127.0.0.1:{port}"
    finally:
        app.terminate()  # aiohttp's clean shutdown: the insert app drops its scratch schema
        app.wait(timeout=30)


def closed_loop(wrk: str, base_url: str, seconds: int, run_id: str, ward_code: str) -> WrkResult:
    """A warm-up (connections, caches, the pool) then the measured run."""
    run_wrk(wrk, base_url, WARMUP_SECONDS, f"warm-{run_id}", ward_code)  # not counted as stored
    return run_wrk(wrk, base_url, seconds, run_id, ward_code)[1]


def add_run(section: Section, key: str, label: str, result: WrkResult, p99_target: Target | None = None) -> None:
    section.add(f"{key}_per_second", f"{label} answered 2xx/s", ok_per_second(result), "/s")
    section.add(f"{key}_p50_ms", f"{label} latency p50", result.p50_ms, "ms")
    section.add(f"{key}_p99_ms", f"{label} latency p99", result.p99_ms, "ms", p99_target)
    section.details[key] = {
        "requests": result.requests,
        "seconds": result.seconds,
        "statuses": result.statuses,
        "socket_errors": result.socket_errors,
        "p90_ms": result.p90_ms,
        "max_ms": result.max_ms,
    }


def ok_per_second(result: WrkResult) -> float:
    """Answers the run counts as done: 201 from intake and the insert, 200 from the echo."""
    ok = sum(n for status, n in result.statuses.items() if 200 <= status < 300)
    return ok / result.seconds if result.seconds else 0.0


async def measure(stack: Stack) -> Section:
    seconds = int(seconds_setting())
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    intake = stack.url("intake")
    ward_code = str(http_json(f"{intake}/api/v1/wards")[0]["code"])
    stamp = f"{time.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(3)}"
    section = Section(
        "submission",
        f"wrk -t2 -c{CONNECTIONS}, {seconds} s after a {WARMUP_SECONDS} s warm-up, each request a new report "
        "(benchmarks/wrk/submit.lua): intake's POST /api/v1/reports (201 = stored with its outbox event), the "
        "bare insert of the same report and outbox rows in one transaction, and a bare JSON echo; relays and "
        "consumers stopped. Latency: wrk's, closed loop.",
    )
    section.details["connections"] = CONNECTIONS

    run_id = f"bench-{stamp}"
    print(f"submission: intake, {CONNECTIONS} connections, {seconds} s", flush=True)
    submitted = await asyncio.to_thread(closed_loop, wrk, intake, seconds, run_id, ward_code)
    stored, distinct = await stored_reports(stack.admin_dsn, run_id)
    section.details["intake_stored"] = {"acknowledged": submitted.acknowledged, "stored": stored, "distinct": distinct}

    await wait_quiet(limit=30)
    print("submission: bare insert (benchmarks/ceiling.py insert)", flush=True)
    with ceiling_app("insert", stack.admin_dsn) as url:
        inserted = await asyncio.to_thread(closed_loop, wrk, url, seconds, f"ceiling-{stamp}", ward_code)
    await wait_quiet(limit=30)
    print("submission: bare JSON echo (benchmarks/ceiling.py echo)", flush=True)
    with ceiling_app("echo", stack.admin_dsn) as url:
        echoed = await asyncio.to_thread(closed_loop, wrk, url, seconds, f"echo-{stamp}", ward_code)

    add_run(section, "intake", "intake", submitted, INTAKE_P99_MS)
    add_run(section, "insert", "bare insert", inserted)
    add_run(section, "echo", "bare echo", echoed)
    rates = {key: ok_per_second(r) for key, r in (("intake", submitted), ("insert", inserted), ("echo", echoed))}
    section.add("intake_vs_insert", "intake / bare insert", rates["intake"] / max(rates["insert"], 1e-9), "",
                INTAKE_SHARE)  # fmt: skip
    section.add("intake_vs_echo", "intake / bare echo", rates["intake"] / max(rates["echo"], 1e-9), "")
    section.add("insert_vs_echo", "bare insert / bare echo", rates["insert"] / max(rates["echo"], 1e-9), "")
    return section
