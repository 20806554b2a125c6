"""build_app(settings) -> the notify web application (delivery log)."""

from __future__ import annotations

from aiohttp import web

from notify import handlers
from notify.config import Settings
from notify.openapi import API
from paht_shared.openapi import serve_openapi
from paht_shared.runtime import service_app


def build_app(settings: Settings) -> web.Application:
    app = service_app(settings)
    app.router.add_get("/api/v1/deliveries", handlers.list_deliveries)
    app.router.add_put("/api/v1/agencies/{code}/notification-mode", handlers.set_notification_mode)
    serve_openapi(app, API)
    return app
