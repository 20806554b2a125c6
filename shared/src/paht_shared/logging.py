"""structlog JSON logging with correlation ids and a processor that redacts personal data.

Personal data must never reach a log line: fields with personal names are masked whatever their value,
and any string that looks like a phone number, a 12-digit CCCD or an email is masked wherever it appears.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from paht_shared.text import mask_personal_data

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


def redact_text(text: str) -> str:
    """Mask emails, phones and CCCD/CMND numbers with the patterns of `paht_shared.text`.

    The same patterns mask citizens' free text, so a log line and a published report hide the same things.
    """
    return mask_personal_data(text, mask=REDACTED)


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
