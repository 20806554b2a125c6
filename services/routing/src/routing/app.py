"""build_app(settings) -> the routing web application (agency and admin API)."""

from __future__ import annotations

from aiohttp import web

from paht_shared.openapi import serve_openapi
from paht_shared.runtime import service_app
from routing import handlers
from routing.account_handlers import add_account_routes
from routing.config import Settings
from routing.directory_handlers import add_directory_routes
from routing.openapi import API
from routing.service import workflow_of
from routing.work_handlers import add_work_routes


def build_app(settings: Settings) -> web.Application:
    app = service_app(settings)
    app.router.add_get("/api/v1/agencies", handlers.list_agencies)
    app.router.add_get("/api/v1/agencies/{code}/assignments", handlers.agency_assignments)
    add_work_routes(app, workflow_of(settings))
    add_directory_routes(app, settings)
    add_account_routes(app, settings)
    serve_openapi(app, API)
    return app
