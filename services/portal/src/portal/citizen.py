"""The citizen site: send a report, follow it, public reports and statistics."""

from __future__ import annotations

from aiohttp import web


def add_routes(app: web.Application) -> None:
    """Registered by app.py."""
