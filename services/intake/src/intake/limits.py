"""Submissions per client address: a fixed one-minute window per address, in this process's memory.

In memory because it runs on every submission (>1,000/s): a database round trip per request would cost
more than the limit saves. With several API processes each enforces it alone, so the effective limit is
N times the setting; a province running many replicas puts the same limit on its reverse proxy too. The
per-phone limit, which matters more, is counted in PostgreSQL (service.py) and holds across processes.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable

from aiohttp import web

_WINDOW_SECONDS = 60.0
_MAX_TRACKED = 100_000  # addresses remembered per window; beyond it the window starts over (bounded memory)


class AddressLimiter:
    def __init__(
        self,
        per_minute: int,
        trusted_proxies: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_minute = per_minute
        self.trusted_proxies = trusted_proxies  # parsed once here, not on every submission
        self._clock = clock
        self._window_started = clock()
        self._counts: dict[str, int] = {}

    def allow(self, address: str) -> int | None:
        """None if `address` may submit now; otherwise the seconds until it may (Retry-After)."""
        now = self._clock()
        if now - self._window_started >= _WINDOW_SECONDS or len(self._counts) >= _MAX_TRACKED:
            self._window_started, self._counts = now, {}
        count = self._counts.get(address, 0)
        if count >= self.per_minute:
            return max(1, int(_WINDOW_SECONDS - (now - self._window_started)) + 1)
        self._counts[address] = count + 1
        return None

    def refund(self, address: str) -> None:
        """Give back a submission the platform failed (a 503 while PostgreSQL was away): the app retrying it
        with the same Idempotency-Key is the same submission, and must not use up the citizen's minute."""
        count = self._counts.get(address, 0)
        if count > 0:
            self._counts[address] = count - 1


def client_address(request: web.Request, trusted_proxies: frozenset[str]) -> str:
    """The citizen's address: the peer, or, when the peer is a trusted proxy (the portal, the reverse proxy),
    the last address it appended to X-Forwarded-For."""
    peer = request.remote or ""
    if peer in trusted_proxies:
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(forwarded))
        except ValueError:
            return peer
    return peer
