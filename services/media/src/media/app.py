"""build_app(settings) -> the media web application: upload, access, signed downloads of sanitised files."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from media import handlers
from media.config import Settings
from media.openapi import API
from media.storage import ObjectStore
from paht_shared.openapi import serve_openapi
from paht_shared.runtime import service_app
from paht_shared.web import READINESS_CHECKS


def build_app(settings: Settings) -> web.Application:
    # No client_max_size headroom needed: the multipart body is streamed, never read whole.
    # uses_kafka=False: the API only writes its outbox; the relay and the worker talk to Kafka.
    app = service_app(settings, uses_kafka=False)
    app[handlers.SETTINGS] = settings

    async def object_store(app: web.Application) -> AsyncIterator[None]:
        store = ObjectStore(settings)
        app[handlers.STORE] = store
        app[READINESS_CHECKS]["s3"] = store.check
        yield
        store.close()

    app.cleanup_ctx.append(object_store)
    app.router.add_post("/api/v1/media", handlers.upload)
    app.router.add_get("/api/v1/media/{media_id}", handlers.show)
    app.router.add_get("/api/v1/media/{media_id}/files/{name}", handlers.download_file)
    serve_openapi(app, API)
    return app
