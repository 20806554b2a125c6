"""The services' public HTTP APIs, as the portal calls them. One client session per process.

Every call returns the service's status and JSON body as they are: pages decide what a 4xx means to the
person in front of them. A service that cannot be reached is `Unavailable` (the page says "try again").
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog

log = structlog.get_logger("portal.backends")


class Unavailable(Exception):
    """The service did not answer (down, timed out, or a 5xx)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any  # the JSON body (None when there was none)
    headers: dict[str, str]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def field_errors(self) -> dict[str, str]:
        """The API's `{"errors": [{field, code, message}]}` as field -> Vietnamese message (first per field)."""
        found: dict[str, str] = {}
        errors = self.body.get("errors") if isinstance(self.body, dict) else None
        for error in errors or []:
            found.setdefault(str(error.get("field") or ""), str(error.get("message") or ""))
        return found


class Backends:
    """intake, routing and media at their configured base URLs."""

    def __init__(self, intake: str, routing: str, media: str, timeout_seconds: float) -> None:
        self.urls = {"intake": intake.rstrip("/"), "routing": routing.rstrip("/"), "media": media.rstrip("/")}
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._http = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        token: str | None = None,
    ) -> Answer:
        """`method` `path` on `service`; `token`: a staff member's bearer token."""
        assert self._http is not None  # noqa: S101 - started with the application
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        url = self.urls[service] + path
        try:
            async with self._http.request(method, url, json=json, data=data, params=params, headers=sent) as resp:
                body = await resp.json(content_type=None) if resp.content_length != 0 else None
                answer = Answer(resp.status, body, dict(resp.headers))
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("backend_unavailable", service=service, error=type(exc).__name__)
            raise Unavailable(service) from exc
        if answer.status >= 500:
            log.warning("backend_error", service=service, status=answer.status)
            raise Unavailable(service)
        return answer

    @asynccontextmanager
    async def download(self, service: str, path: str) -> AsyncIterator[aiohttp.ClientResponse]:
        """A file at `path` on `service` (a signed link), for the caller to stream on; the status is theirs to read."""
        assert self._http is not None  # noqa: S101 - started with the application
        try:
            async with self._http.get(self.urls[service] + path) as resp:
                yield resp
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("backend_unavailable", service=service, error=type(exc).__name__)
            raise Unavailable(service) from exc
