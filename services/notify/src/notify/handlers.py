"""HTTP handlers of the delivery log."""

from __future__ import annotations

import uuid

from aiohttp import web

from notify import repository, service
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


MODES = ("immediate", "hourly", "twice_daily")


async def set_notification_mode(request: web.Request) -> web.Response:
    """An agency chooses an email per report or a digest: its own officers, coordinators or admins."""
    code = request.match_info["code"].upper()
    require_staff(request, Role.OFFICER, Role.COORDINATOR, Role.ADMIN, agency=code)
    try:
        body = await request.json()
    except ValueError:
        return json_error(400, "invalid_json", "Dữ liệu gửi lên không đúng định dạng JSON.")
    mode = body.get("mode") if isinstance(body, dict) else None
    if mode not in MODES or set(body) != {"mode"}:
        return json_error(
            422, "invalid_mode", "Chế độ nhận thông báo phải là immediate, hourly hoặc twice_daily.", "mode"
        )
    async with request.app[DB_POOL].acquire() as conn:
        await repository.set_agency_mode(conn, code, mode)
    return web.json_response({"agency_code": code, "mode": mode})
