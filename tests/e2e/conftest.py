"""The running platform: `make run` brings it up (reusing what already runs)."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from paht_shared.auth import Role, mint_token

ROOT = Path(__file__).resolve().parents[2]


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def devstack(*args: str) -> None:
    subprocess.run(
        [str(ROOT / ".venv/bin/python"), "deploy/devstack.py", *args], cwd=ROOT, check=True, stdout=subprocess.DEVNULL
    )


@pytest.fixture(scope="session")
def platform(stack: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """`make run`, after stopping service processes left from an earlier run (they may run older code).

    Leaves the platform running if it was running before the tests; otherwise stops what it started.
    """
    ports = stack["http_ports"]
    was_running = all(ready(p) for p in ports.values())
    devstack("services-down")
    subprocess.run(["make", "run"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    yield stack
    if not was_running:
        devstack("services-down")


@pytest.fixture
def staff_token(infra_dir: Path) -> Callable[..., str]:
    """Factory: a bearer token for a staff role, signed with the development key the running services trust."""
    signing_key = json.loads((infra_dir / "secrets.json").read_text())["auth_signing_key"]

    def mint(role: Role, agency: str | None = None) -> str:
        return mint_token(signing_key, f"e2e-{role.value}", role, agency)

    return mint
