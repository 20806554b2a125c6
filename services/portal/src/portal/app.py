"""build_app(settings) -> the portal web application (citizen site and staff consoles)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

from aiohttp import web
from aiohttp_session import session_middleware

from paht_shared.crypto import FieldCipher, Keyring
from paht_shared.runtime import DB_POOL, service_app
from portal import citizen, consoles, pages
from portal.app_keys import BACKENDS, SESSIONS, SETTINGS, TEMPLATES
from portal.backends import Backends
from portal.config import Settings
from portal.rendering import environment
from portal.security import STATIC_PREFIX, csrf_middleware, headers_middleware
from portal.sessions import PostgresStorage

STATIC_DIR = Path(str(resources.files("portal") / "static"))


def build_app(settings: Settings) -> web.Application:
    cipher = FieldCipher(Keyring.parse(settings.session_keys))
    storage = PostgresStorage(lambda: app[DB_POOL], settings.session_hours * 3600, settings.cookie_secure, cipher)
    app = service_app(
        settings,
        client_max_size=settings.max_upload_bytes,
        uses_kafka=False,
        has_outbox=False,
        middlewares=[headers_middleware, session_middleware(storage), csrf_middleware, pages.unavailable_middleware],
    )
    app[SETTINGS] = settings
    app[SESSIONS] = storage
    app[TEMPLATES] = environment()
    app[BACKENDS] = Backends(
        settings.intake_url, settings.routing_url, settings.media_url, settings.backend_timeout_seconds
    )

    async def backends(app: web.Application) -> AsyncIterator[None]:
        await app[BACKENDS].start()
        yield
        await app[BACKENDS].close()

    app.cleanup_ctx.append(backends)
    app.router.add_static(STATIC_PREFIX, STATIC_DIR, name="static", append_version=True)
    pages.add_routes(app)
    citizen.add_routes(app)
    consoles.add_routes(app)
    return app
