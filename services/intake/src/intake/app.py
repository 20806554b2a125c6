"""build_app(settings) -> the intake web application."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

from aiohttp import web

from intake import handlers
from intake.app_keys import POOL, SETTINGS, VAULT
from intake.config import Settings
from intake.service import PersonalDataVault
from paht_shared.crypto import FieldCipher, Keyring
from paht_shared.db import create_pool
from paht_shared.runtime import kafka_ready, postgres_ready, watch_outbox
from paht_shared.web import READINESS_CHECKS, new_app


def make_vault(settings: Settings) -> PersonalDataVault:
    return PersonalDataVault(FieldCipher(Keyring.parse(settings.pii_keys)), base64.b64decode(settings.blind_index_key))


def build_app(settings: Settings) -> web.Application:
    app = new_app(client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[VAULT] = make_vault(settings)

    async def database(app: web.Application) -> AsyncIterator[None]:
        app[POOL] = await create_pool(
            settings.database_url, settings.db_schema, settings.db_pool_min, settings.db_pool_max
        )
        yield
        await app[POOL].close()

    app.cleanup_ctx.append(database)
    app[READINESS_CHECKS]["postgres"] = postgres_ready(lambda: app[POOL])
    watch_outbox(app, lambda: app[POOL], settings.db_schema)
    app[READINESS_CHECKS]["kafka"] = kafka_ready(settings.kafka_bootstrap)
    app.router.add_get("/api/v1/categories", handlers.list_categories)
    app.router.add_get("/api/v1/wards", handlers.list_wards)
    app.router.add_post("/api/v1/reports", handlers.post_report)
    app.router.add_get("/api/v1/reports/{tracking_code}", handlers.get_report)
    return app
