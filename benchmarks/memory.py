"""Resident memory (RSS) of every process of the platform at the end of the bench: each service process devstack
started (python -m <service> <kind>), Kafka's JVM, SeaweedFS's weed, and PostgreSQL (its postmaster, and all its
processes together: RSS summed counts shared buffers once per process, so PSS is given beside it)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.results import Section, Target
from benchmarks.workers import Stack
from paht_devstack import postgres
from paht_devstack.services import declared_processes

PYTHON_TARGET = Target("<=", 200.0)


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _pss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def _children(pid: int) -> list[int]:
    """Direct children (PostgreSQL's backends and helpers are all the postmaster's)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def measure(stack: Stack) -> Section:
    section = Section("memory", "VmRSS from /proc/<pid>/status of each process at the end of the bench.")
    for process in declared_processes():
        pid = stack.pid(process.name)
        if pid is not None:
            section.add(f"{process.name}_mb", process.name, _status_kb(pid, "VmRSS") / 1024, "MB", PYTHON_TARGET)
    for server in ("kafka", "s3"):
        pid = stack.pid(server)
        if pid is not None:
            section.add(f"{server}_mb", f"{server} ({'JVM' if server == 'kafka' else 'weed'})",
                        _status_kb(pid, "VmRSS") / 1024, "MB")  # fmt: skip
    pid_file = postgres.data_dir(stack.cfg) / "postmaster.pid"
    if pid_file.exists():
        postmaster = int(pid_file.read_text().split()[0])
        every = [postmaster, *_children(postmaster)]
        section.add("postgres_postmaster_mb", "postgres (postmaster)", _status_kb(postmaster, "VmRSS") / 1024, "MB")
        section.add("postgres_all_pss_mb", f"postgres (all {len(every)} processes, PSS)",
                    sum(_pss_kb(p) for p in every) / 1024, "MB")  # fmt: skip
        section.details["postgres_all_rss_mb"] = round(sum(_status_kb(p, "VmRSS") for p in every) / 1024, 1)
    return section
