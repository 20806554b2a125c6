"""devstack against external servers: it bootstraps them and starts nothing of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def test_bootstrap_only_when_every_server_is_external(stack: dict[str, Any], tmp_path: Path) -> None:
    """With the three server variables set, `devstack.py infra` starts no process and re-applies nothing."""
    env = {
        **os.environ,
        "PAHT_INFRA_DIR": str(tmp_path),
        "PAHT_PG_ADMIN_DSN": stack["admin_dsn"],
        "PAHT_KAFKA_BOOTSTRAP": stack["kafka_bootstrap"],
        "PAHT_S3_ENDPOINT": stack["s3_endpoint"],
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy/devstack.py"), "infra"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    out = result.stdout
    assert "PostgreSQL: external" in out
    assert "Kafka: external" in out
    assert "S3: external" in out
    assert "0 migration(s) applied" in out  # the schemas were bootstrapped already: nothing twice
    assert "0 created" in out
    assert "bucket paht-media present" in out
    assert list(tmp_path.rglob("*.pid")) == []  # no process of its own
    assert (tmp_path / "stack.json").exists()
