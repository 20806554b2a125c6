"""What `make bench` records: each section's figures beside their targets, one JSON file per section in
bench/results/, and the summary table. Targets are reported against, never asserted: a missed target is a
finding, not a failed run."""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DEFAULT_SECONDS = 60  # the duration for the closed- and open-loop runs; BENCH_SECONDS shortens them


def seconds_setting(name: str = "BENCH_SECONDS", default: float = DEFAULT_SECONDS) -> float:
    return float(os.environ.get(name) or default)


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by rank; 0 for no values (a run that got no answer shows as 0, not a crash)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass(frozen=True)
class Target:
    """`value <op> threshold`, e.g. Target(">=", 0.70) for "at least 70 %"."""

    op: str  # ">=" or "<="
    threshold: float

    def met(self, value: float) -> bool:
        return value >= self.threshold if self.op == ">=" else value <= self.threshold

    def ratio(self, value: float) -> float:
        """How far the value is toward the target: above 1 means met, whichever the direction."""
        if self.op == ">=":
            return value / self.threshold
        return self.threshold / value if value else float("inf")


@dataclass(frozen=True)
class Figure:
    key: str  # machine name in the JSON file
    label: str  # what the summary table shows
    value: float
    unit: str
    target: Target | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "value": round(self.value, 3), "unit": self.unit}
        if self.target is not None:
            out["target"] = f"{self.target.op} {self.target.threshold:g} {self.unit}".strip()
            out["target_met"] = self.target.met(self.value)
        return out


@dataclass
class Section:
    """One result file: bench/results/<name>.json."""

    name: str
    what: str  # one sentence: what exactly was measured
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)  # settings and raw counts behind the figures

    def add(self, key: str, label: str, value: float, unit: str, target: Target | None = None) -> None:
        self.figures.append(Figure(key, label, value, unit, target))

    def write(self, machine: dict[str, Any]) -> Path:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{self.name}.json"
        document = {
            "name": self.name,
            "measures": self.what,
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "command": command(),
            "machine": machine,
            "figures": {f.key: f.as_json() for f in self.figures},
            "details": self.details,
        }
        path.write_text(json.dumps(_finite(document), indent=2, ensure_ascii=False, default=str) + "\n")
        return path


def _finite(value: Any) -> Any:
    """JSON has no infinity (a p99 of reports never assigned): null instead."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def command() -> str:
    """How the figures were produced, with the BENCH_* overrides that shaped them."""
    overrides = " ".join(f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("BENCH_"))
    return " ".join(filter(None, ["make bench:", overrides, Path(sys.executable).name, "-m", "benchmarks.bench"]))


def machine(pg_settings: dict[str, str]) -> dict[str, Any]:
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines() if ":" in line)
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "ram_mb": int(meminfo["MemTotal"].split()[0]) // 1024,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": pg_settings,
    }


def _decimals(figure: Figure) -> int:
    """Ratios (no unit) with two decimals, small figures with one, the rest whole."""
    if not figure.unit:
        return 2
    return 1 if abs(figure.value) < 100 else 0


def summary(sections: list[Section]) -> str:
    """The final table: every figure, its target and how far it is from it (x1.00 = exactly on target)."""
    rows = [("measure", "result", "target", "vs target")]
    for section in sections:
        for f in section.figures:
            result = f"{f.value:,.{_decimals(f)}f} {f.unit}".strip()
            if f.target is None:
                rows.append((f"{section.name}: {f.label}", result, "", ""))
                continue
            verdict = "met" if f.target.met(f.value) else "MISSED"
            target = f"{f.target.op} {f.target.threshold:,g} {f.unit}".strip()
            rows.append((f"{section.name}: {f.label}", result, target, f"x{f.target.ratio(f.value):.2f} {verdict}"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
