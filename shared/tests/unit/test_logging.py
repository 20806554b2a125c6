"""The redacting log processor: personal data never reaches a log line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from paht_shared.logging import REDACTED, configure_logging, redact_personal_data, redact_text
from paht_shared.testing import pii


def test_personal_fields_are_masked_whatever_their_value() -> None:
    """A field named like personal data is masked even when its value matches no pattern."""
    out = redact_personal_data(None, "info", {"event": "x", "full_name": pii.FULL_NAME, "address": pii.ADDRESS})
    assert out["full_name"] == REDACTED
    assert out["address"] == REDACTED


def test_patterns_are_masked_inside_free_text_and_nested_values() -> None:
    """Phones (all common spellings), 12-digit CCCDs and emails are masked wherever they appear."""
    for text in (
        f"gọi {pii.PHONE} nhé",
        "gọi +84 912 345 678 nhé",
        "gọi 0912.345.678 nhé",
        f"cccd {pii.CCCD}",
        f"mail {pii.EMAIL}",
    ):
        assert pii.find_leaks(redact_text(text)) == [], text
        assert REDACTED in redact_text(text)
    nested = redact_personal_data(None, "info", {"event": "e", "data": {"note": [f"số {pii.PHONE}"]}})
    assert pii.PHONE not in json.dumps(nested, ensure_ascii=False)


def test_ids_and_counts_are_left_alone() -> None:
    """UUIDs, tracking codes, ward codes and small numbers are not personal data and stay readable."""
    text = "report 233cf5e4-0e4c-4919-9896-77be5b682288 PA-MFYP4EZC ward 31507 count 1000"
    assert redact_text(text) == text


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging binds to the current stdout: undo it so later tests log to their own capture."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_configured_logger_writes_json_without_personal_data(capsys: pytest.CaptureFixture[str]) -> None:
    """End to end through structlog and the stdlib bridge, as services run it."""
    configure_logging("test", "debug")
    structlog.get_logger().info("report_received", phone=pii.PHONE, note=f"email {pii.EMAIL}")
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    handler.setStream(stream)  # type: ignore[attr-defined]
    logging.getLogger("aiokafka").warning("broker said %s", pii.CCCD)
    captured = capsys.readouterr().out + stream.getvalue()
    assert "report_received" in captured
    assert "broker said" in captured
    assert pii.find_leaks(captured) == []
