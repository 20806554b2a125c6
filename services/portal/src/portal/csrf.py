"""The session's CSRF token: made on first use, put in every form by rendering.py, checked by security.py."""

from __future__ import annotations

import secrets

from aiohttp import web
from aiohttp_session import get_session

CSRF_FIELD = "csrf_token"


async def csrf_token(request: web.Request) -> str:
    """The session's CSRF token (made on first use)."""
    session = await get_session(request)
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token
