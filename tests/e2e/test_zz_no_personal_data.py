"""After the other tests: no personal data in any log or Kafka event (runs last: file name)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from paht_shared.testing import pii
from paht_shared.testing.kafka import read_all

TOPICS = ("report.submitted.v1", "report.routed.v1", "report.status_changed.v1", "notification.sent.v1")


def test_service_and_infrastructure_logs_hold_no_personal_data(platform: dict[str, Any], infra_dir: Path) -> None:
    """Every log file the stack wrote (services, Kafka, S3) is free of the personal data tests submitted."""
    logs = sorted((infra_dir / "logs").glob("*.log"))
    assert any(p.name == "intake-api.log" for p in logs)
    assert sum(p.stat().st_size for p in logs) > 0
    leaks = {p.name: pii.find_leaks(p.read_text(errors="replace")) for p in logs}
    assert {name: found for name, found in leaks.items() if found} == {}


@pytest.mark.parametrize("topic", TOPICS)
async def test_kafka_events_hold_no_personal_data(platform: dict[str, Any], topic: str) -> None:
    """Events carry ids and non-personal fields only."""
    records = await read_all(platform["kafka_bootstrap"], topic)
    if topic == "report.submitted.v1":
        assert records, "the walking skeleton test should have published at least one report"
    for record in records:
        assert pii.find_leaks((record.value or b"").decode(errors="replace")) == []
