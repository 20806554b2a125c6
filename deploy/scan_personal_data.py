"""After the tests: fail if the personal data the test session used is in any log or any Kafka record.

    python deploy/scan_personal_data.py [INFRA_DIR] [--topic NAME ...]

Reads the values the session drew (INFRA_DIR/run/pii-values.json, written by the paht pytest plugin at
session start), then every file under INFRA_DIR/logs and PostgreSQL's server log, and the key, value and
headers of every record of every topic on the broker in INFRA_DIR/stack.json: agency queues and
dead-letter topics included (`--topic` limits the Kafka part to the topics named). `make test` runs it
after pytest, so it sees what every test left behind whatever order they ran in.

Prints where it found which kind of data, never the data. Exit status: 0 clean, 1 personal data found,
2 nothing to compare with or the broker unreadable (a scan that could not look must not pass).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from aiokafka.errors import KafkaError

from paht_shared.testing.pii import VALUES_FILE, PersonalData, ScanReport, scan_files, scan_kafka


def log_files(infra: Path) -> list[Path]:
    files = sorted(p for p in (infra / "logs").rglob("*") if p.is_file())
    postgres = infra / "pg" / "server.log"  # written by pg_ctl next to the data folder, not in logs/
    return [*files, postgres] if postgres.exists() else files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("infra", nargs="?", type=Path, default=Path(".infra"))
    parser.add_argument("--topic", action="append", dest="topics", help="scan only this topic (repeatable)")
    args = parser.parse_args()
    values = args.infra / VALUES_FILE
    if not values.exists():
        print(f"personal data scan: {values} is missing: run the tests first (their session writes it)")
        return 2
    person = PersonalData.load(values)
    logs = scan_files(log_files(args.infra), person)
    bootstrap = json.loads((args.infra / "stack.json").read_text())["kafka_bootstrap"]
    try:
        kafka = asyncio.run(scan_kafka(bootstrap, person, args.topics))
    except (KafkaError, OSError, LookupError, TimeoutError) as exc:
        print(f"personal data scan: cannot read Kafka at {bootstrap}: {type(exc).__name__}: {exc}")
        return 2
    return report(logs, kafka)


def report(logs: ScanReport, kafka: ScanReport) -> int:
    leaks = [*logs.leaks, *kafka.leaks]
    summary = f"{logs.scanned} log file(s), {kafka.scanned} Kafka record(s)"
    if leaks:
        shown = leaks[:50]
        more = f"\n  … and {len(leaks) - len(shown)} more" if len(leaks) > len(shown) else ""
        print(f"personal data found ({summary}):\n  " + "\n  ".join(map(str, shown)) + more)
        return 1
    print(f"personal data scan: {summary}, none found")
    return 0


if __name__ == "__main__":
    sys.exit(main())
