"""structlog JSON logging with correlation ids and a processor that redacts personal data.

Personal data must never reach a log line: fields with personal names are masked whatever their value,
and any string that looks like a phone number, a 12-digit CCCD or an email is masked wherever it appears.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

REDACTED = "[redacted]"

# Field names whose values are personal data, whatever the value looks like.
PERSONAL_FIELDS = frozenset(
    {
        "full_name",
        "name_of_reporter",
        "reporter",
        "reporter_name",
        "address",
        "contact_address",
        "cccd",
        "citizen_id",
        "phone",
        "phone_number",
        "email",
        "tracking_secret",
        "password",
        "authorization",
        "x-tracking-secret",
    }
)

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# 12-digit CCCD, and Vietnamese phones: 0 + 9-10 digits or +84/84 + 9 digits, with common separators.
_CCCD = re.compile(r"(?<!\d)\d{12}(?!\d)")
_PHONE = re.compile(r"(?<![\w])(?:\+?84|0)(?:[\s.\-]?\d){9,10}(?!\d)")


def redact_text(text: str) -> str:
    text = _EMAIL.sub(REDACTED, text)
    text = _CCCD.sub(REDACTED, text)
    return _PHONE.sub(REDACTED, text)


def _redact(value: Any, key: str | None = None) -> Any:
    if key is not None and key.lower() in PERSONAL_FIELDS:
        return REDACTED if value not in (None, "") else value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: _redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_redact(v) for v in value]
    return value


def redact_personal_data(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask personal data by field name and by pattern."""
    return {k: _redact(v, k) for k, v in event_dict.items()}


def configure_logging(service: str, level: str = "info", json: bool = True) -> None:
    """Configure structlog (and the stdlib loggers of our libraries) to write JSON lines to stdout."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_personal_data,  # last before rendering: also covers exception text and bound context
    ]
    renderer: Any = structlog.processors.JSONRenderer(ensure_ascii=False) if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # Library loggers (aiokafka, aiohttp.access) go through the same redaction.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
