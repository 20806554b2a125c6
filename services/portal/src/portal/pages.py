"""The portal's shared pages: home, and the answer when a service is away. Each area adds its own routes
(citizen.py, consoles.py)."""

from __future__ import annotations

from aiohttp import web

from portal.backends import Unavailable
from portal.rendering import render
from portal.security import Handler


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", home)


async def home(request: web.Request) -> web.Response:
    return await render(request, "home.html")


@web.middleware
async def unavailable_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A service that does not answer is a 503 page that says to try again, never a stack trace."""
    try:
        return await handler(request)
    except Unavailable:
        response = await render(request, "unavailable.html", status=503)
        response.headers["Retry-After"] = "30"
        return response
