"""What every browser answer carries, and the CSRF check of every form.

- Content-Security-Policy: our own scripts, styles and images only (no CDN, no inline script), no framing.
- Cache-Control: no-store on every page (forms and consoles may show personal data); static files may be cached.
- CSRF: a random token per session, in a hidden field of every form (or the X-CSRF-Token header of a script's
  request); a POST without the session's token is refused before any handler runs.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp_session import get_session

from portal.csrf import CSRF_FIELD
from portal.rendering import render

CSRF_HEADER = "X-CSRF-Token"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
STATIC_PREFIX = "/static/"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
        _secure(request, response)
        raise
    _secure(request, response)
    return response


def _secure(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "geolocation=(self), camera=(self), microphone=(self)"
    if not request.path.startswith(STATIC_PREFIX):
        response.headers["Cache-Control"] = "no-store"


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        session = await get_session(request)
        expected = session.get(CSRF_FIELD)
        given = request.headers.get(CSRF_HEADER)
        if given is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            # Reading the form here caches it on the request: the handler reads the same parsed form.
            given = str((await request.post()).get(CSRF_FIELD, ""))
        if not isinstance(expected, str) or not given or not hmac.compare_digest(expected, given):
            # A page, not a raised error: the services' shared middleware would make that a JSON body.
            return await render(request, "csrf_refused.html", status=403)
    return await handler(request)
