"""What the end-to-end tests share beyond the `platform` and `staff_token` fixtures of the paht pytest plugin
(paht_shared.testing.fixtures): the repository, and devstack to stop or start one process."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def devstack(*args: str) -> None:
    subprocess.run(
        [str(ROOT / ".venv/bin/python"), "deploy/devstack.py", *args], cwd=ROOT, check=True, stdout=subprocess.DEVNULL
    )
