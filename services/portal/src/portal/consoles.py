"""The staff consoles: login, the hotline 1022 operator console, the agency console and the coordinator's views."""

from __future__ import annotations

from aiohttp import web


def add_routes(app: web.Application) -> None:
    """Registered by app.py."""
