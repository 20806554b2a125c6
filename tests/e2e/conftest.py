"""The running platform: `make run` brings it up (reusing what already runs)."""

from __future__ import annotations

import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="session")
def platform(stack: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Starts the services with `make run` unless they already run; stops only what it started."""
    ports = stack["http_ports"]
    already = all(ready(p) for p in ports.values())
    if not already:
        subprocess.run(["make", "run"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    yield stack
    if not already:
        subprocess.run([str(ROOT / ".venv/bin/python"), "deploy/devstack.py", "services-down"], cwd=ROOT, check=True)
