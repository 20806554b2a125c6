"""Typed application keys of the portal."""

from __future__ import annotations

from aiohttp import web
from jinja2 import Environment

from portal.backends import Backends
from portal.config import Settings
from portal.sessions import PostgresStorage

SETTINGS = web.AppKey("settings", Settings)
BACKENDS = web.AppKey("backends", Backends)
TEMPLATES = web.AppKey("templates", Environment)
SESSIONS = web.AppKey("sessions", PostgresStorage)
