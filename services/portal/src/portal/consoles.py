"""The staff consoles: login, the hotline 1022 operator console, the agency console and the coordinator's views."""

from __future__ import annotations

from aiohttp import web

from portal import agency_console, coordinator_console, operator_console, staff_login


def add_routes(app: web.Application) -> None:
    """Registered by app.py."""
    staff_login.add_routes(app)
    operator_console.add_routes(app)
    # before the agency console: its `/co-quan/phan-anh/{id}/{action}` would also match `…/dieu-chuyen`
    coordinator_console.add_routes(app)
    agency_console.add_routes(app)
