"""The table a chaos run prints: what was submitted and became of it, then each fault with its evidence."""

from __future__ import annotations

from collections.abc import Sequence

from chaos.faults import Fault
from chaos.verify import Counts


def table(
    counts: Counts,
    faults: Sequence[Fault],
    submitted: int,
    answers: dict[str, int],
    media_answers: dict[str, int],
    drained_in: float | None,
    failures: Sequence[str],
) -> str:
    rows: list[tuple[str, str]] = [
        ("submitted (reports asked for)", str(submitted)),
        ("answers to submissions", _fmt(answers)),
        ("acknowledged (201)", str(counts.acknowledged)),
        ("stored (intake.reports)", str(counts.stored)),
        ("routed (exactly one assignment)", str(counts.routed)),
        ("'assigned' on the tracking timeline", str(counts.assigned_on_timeline)),
        ("raw Kafka duplicates absorbed", _fmt(counts.raw_duplicates)),
        ("duplicated effects", f"{counts.duplicated}  {_fmt(counts.duplicated_effects)}"),
        ("lost", str(len(counts.lost))),
        ("notify deliveries by status", _fmt(counts.deliveries)),
        ("emails in the mailbox", str(counts.emails)),
        (
            "DLQ",
            f"{counts.dlq_records} records: {counts.dlq_poison} (poison, handler) pairs "
            f"[{', '.join(counts.dlq_handlers)}], {counts.dlq_unexpected} not poison, "
            f"{counts.poison_missing} poison missing",
        ),
        ("uploads: answers", _fmt(media_answers)),
        ("uploads: acknowledged / stored", f"{counts.media_acknowledged} / {counts.media_stored}"),
        ("uploads by status", _fmt(counts.media_statuses)),
        ("backlog drained after the last fault", "never" if drained_in is None else f"{drained_in:.1f} s"),
    ]
    width = max(len(k) for k, _ in rows)
    lines = ["", "chaos run", "-" * 100]
    lines += [f"{k:<{width}}  {v}" for k, v in rows]
    lines += ["-" * 100, f"{'fault':<36} {'outage':>7} {'recovery':>9} {'procs kept':>10}  evidence", "-" * 100]
    for f in faults:
        recovery = "never" if f.recovered_in is None else f"{f.recovered_in:.1f} s"
        kept = "" if f.same_processes is None else ("yes" if f.same_processes else "NO")
        lines.append(f"{f.name:<36} {f.restored - f.began:>6.1f}s {recovery:>9} {kept:>10}  {f.proof}")
    lines.append("-" * 100)
    lines += [f"FAIL: {reason}" for reason in failures] or ["PASS: every check held"]
    return "\n".join(lines)


def _fmt(values: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in values.items()) or "-"
