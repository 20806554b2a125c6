"""HTTP handlers of the delivery log."""

from __future__ import annotations

import uuid

from aiohttp import web

from notify import service
from paht_shared.auth import Role, require_staff
from paht_shared.runtime import DB_POOL
from paht_shared.web import json_error


async def list_deliveries(request: web.Request) -> web.Response:
    """The delivery log of a report: coordinators and admins only, since it holds recipient addresses."""
    require_staff(request, Role.COORDINATOR, Role.ADMIN)
    try:
        report_id = uuid.UUID(request.query.get("report_id", ""))
    except ValueError:
        return json_error(400, "invalid_report_id", "Mã phản ánh (report_id) không hợp lệ.", "report_id")
    deliveries = await service.deliveries_of(request.app[DB_POOL], report_id)
    return web.json_response([d.model_dump(mode="json") for d in deliveries])
