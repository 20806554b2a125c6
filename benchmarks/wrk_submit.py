"""make bench-wrk: intake submission throughput measured with wrk (64 connections, Idempotency-Key on each).

Runs a 2 s warm-up, then `wrk -t2 -c64 -d${BENCH_SECONDS:-20}s --latency -s benchmarks/wrk/submit.lua` against
the running intake API, prints wrk's output and a summary line, and checks in PostgreSQL that every report
wrk saw acknowledged (201) is stored. Exits non-zero on any non-2xx answer or when fewer reports are stored
than acknowledged. Every request is a new report with its own key; the keys of a run share a prefix, which
is how the stored ones are counted.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path("benchmarks/wrk/submit.lua")  # relative to ROOT, where wrk runs
THREADS, CONNECTIONS, WARMUP_SECONDS = 2, 64, 2


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[int, int]
    socket_errors: dict[str, int]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def acknowledged(self) -> int:
        return self.statuses.get(201, 0)

    @property
    def non_201(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != 201)

    @property
    def non_2xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)


def parse_result(output: str) -> WrkResult:
    """The WRK_RESULT line that submit.lua's done() writes."""
    match = re.search(r"^WRK_RESULT (.*)$", output, re.MULTILINE)
    if match is None:
        raise SystemExit("wrk printed no WRK_RESULT line (did the Lua script fail?)")
    fields = dict(part.split("=", 1) for part in match.group(1).split())
    statuses = {}
    if fields["statuses"] != "-":
        statuses = {int(s): int(n) for s, n in (pair.split(":") for pair in fields["statuses"].split(","))}
    return WrkResult(
        requests=int(fields["requests"]),
        seconds=int(fields["duration_us"]) / 1e6,
        p50_ms=int(fields["p50_us"]) / 1000,
        p90_ms=int(fields["p90_us"]) / 1000,
        p99_ms=int(fields["p99_us"]) / 1000,
        max_ms=int(fields["max_us"]) / 1000,
        statuses=statuses,
        socket_errors={k: int(fields[k]) for k in ("connect", "read", "write", "timeout")},
    )


def http_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - a fixed loopback http URL
        return json.loads(resp.read())


def run_wrk(wrk: str, base_url: str, seconds: int, run_id: str, ward_code: str) -> tuple[str, WrkResult]:
    argv = [wrk, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", str(SCRIPT), base_url]
    env = {**os.environ, "WRK_RUN_ID": run_id, "WRK_WARD_CODE": ward_code}
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False)  # noqa: S603
    output = done.stdout + done.stderr
    if done.returncode != 0:
        print(output, file=sys.stderr)
        raise SystemExit(f"wrk exited with {done.returncode}")
    return output, parse_result(output)


async def stored_reports(admin_dsn: str, run_id: str) -> tuple[int, int]:
    """(reports stored under this run's keys, distinct report ids among them)."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS stored, count(DISTINCT r.id) AS distinct_reports "
            "FROM intake.idempotency_keys k JOIN intake.reports r ON r.id = k.report_id "
            "WHERE starts_with(k.key, $1)",
            run_id + "-",
        )
    finally:
        await conn.close()
    return int(row["stored"]), int(row["distinct_reports"])


def main() -> int:
    stack: dict[str, Any] = json.loads((ROOT / ".infra" / "stack.json").read_text())
    port = stack["services"]["intake"]["INTAKE_HTTP_PORT"]
    base_url = f"http://127.0.0.1:{port}"
    seconds = int(os.environ.get("BENCH_SECONDS", "20"))
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    try:
        http_json(f"{base_url}/readyz")
    except OSError as exc:
        raise SystemExit(f"intake is not ready at {base_url}/readyz: {exc}") from exc
    wards = http_json(f"{base_url}/api/v1/wards")
    if not wards:
        raise SystemExit("GET /api/v1/wards returned no ward")
    ward_code = str(wards[0]["code"])

    stamp = f"{time.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(3)}"
    print(
        f"wrk bench: {THREADS} threads, {CONNECTIONS} connections, {seconds} s, ward {ward_code}, "
        f"{os.cpu_count()} CPU cores"
    )
    _, warm = run_wrk(wrk, base_url, WARMUP_SECONDS, f"wrkwarm-{stamp}", ward_code)
    print(f"warm-up : {warm.per_second:.0f} req/s over {warm.seconds:.1f} s, statuses {warm.statuses}")

    run_id = f"wrkbench-{stamp}"
    output, result = run_wrk(wrk, base_url, seconds, run_id, ward_code)
    print(output.rstrip())
    stored, distinct = asyncio.run(stored_reports(stack["admin_dsn"], run_id))

    errors = ", ".join(f"{k} {v}" for k, v in result.socket_errors.items() if v) or "none"
    print(
        f"summary : {result.per_second:.0f} requests/s, latency p50 {result.p50_ms:.1f} ms  "
        f"p90 {result.p90_ms:.1f} ms  p99 {result.p99_ms:.1f} ms  max {result.max_ms:.1f} ms, "
        f"non-201 {result.non_201}, "
        f"statuses {result.statuses}, socket errors {errors}"
    )
    print(
        f"stored  : {stored} reports stored under this run's keys ({distinct} distinct), "
        f"{result.acknowledged} acknowledged (201)"
    )
    failed = False
    if result.non_2xx:
        print(f"FAIL: {result.non_2xx} non-2xx responses", file=sys.stderr)
        failed = True
    if result.acknowledged == 0:
        print("FAIL: no report acknowledged", file=sys.stderr)
        failed = True
    if stored < result.acknowledged or distinct < result.acknowledged:
        print(f"FAIL: {result.acknowledged} acknowledged but only {distinct} stored", file=sys.stderr)
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
