"""Fail if any log of the run (services, infrastructure, pytest) contains the personal data tests used."""

from __future__ import annotations

import sys
from pathlib import Path

from paht_shared.testing.pii import find_leaks


def main() -> int:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else ".infra/logs")
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    leaks = []
    for path in files:
        found = find_leaks(path.read_text(encoding="utf-8", errors="replace"))
        if found:
            leaks.append(f"{path}: {len(found)} kind(s) of personal data")
    if leaks:
        print("personal data found in logs:\n  " + "\n  ".join(leaks))
        return 1
    print(f"log scan: {len(files)} log file(s), no personal data")
    return 0


if __name__ == "__main__":
    sys.exit(main())
