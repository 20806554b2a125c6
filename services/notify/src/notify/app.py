"""build_app(settings) -> the notify web application (delivery log)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
from aiohttp import web

from notify import repository
from notify.config import Settings
from paht_shared.db import create_pool
from paht_shared.runtime import kafka_ready, postgres_ready, watch_outbox
from paht_shared.web import READINESS_CHECKS, json_error, new_app

POOL: web.AppKey[asyncpg.Pool] = web.AppKey("pool", asyncpg.Pool)


async def list_deliveries(request: web.Request) -> web.Response:
    try:
        report_id = uuid.UUID(request.query.get("report_id", ""))
    except ValueError:
        return json_error(400, "invalid_report_id", "Mã phản ánh (report_id) không hợp lệ.", "report_id")
    rows = await repository.deliveries_of(request.app[POOL], report_id)
    return web.json_response(
        [
            {
                "id": str(r["id"]),
                "channel": r["channel"],
                "recipient": r["recipient"],
                "subject": r["subject"],
                "status": r["status"],
                "sent_at": r["sent_at"].isoformat(),
            }
            for r in rows
        ]
    )


def build_app(settings: Settings) -> web.Application:
    app = new_app()

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
    app.router.add_get("/api/v1/deliveries", list_deliveries)
    return app
