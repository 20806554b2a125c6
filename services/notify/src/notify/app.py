"""build_app(settings) -> the notify web application (delivery log)."""

from __future__ import annotations

import uuid

from aiohttp import web

from notify import repository
from notify.config import Settings
from paht_shared.runtime import DB_POOL, service_app
from paht_shared.web import json_error


async def list_deliveries(request: web.Request) -> web.Response:
    try:
        report_id = uuid.UUID(request.query.get("report_id", ""))
    except ValueError:
        return json_error(400, "invalid_report_id", "Mã phản ánh (report_id) không hợp lệ.", "report_id")
    rows = await repository.deliveries_of(request.app[DB_POOL], report_id)
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
    app = service_app(settings)
    app.router.add_get("/api/v1/deliveries", list_deliveries)
    return app
