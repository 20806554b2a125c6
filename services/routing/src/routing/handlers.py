"""HTTP handlers of the agency API: parse, call a use case, map the result to HTTP."""

from __future__ import annotations

from aiohttp import web

from paht_shared.auth import Role, require_staff
from paht_shared.runtime import DB_POOL
from paht_shared.web import json_error
from routing import service


async def list_agencies(request: web.Request) -> web.Response:
    agencies = await service.list_agencies(request.app[DB_POOL])
    return web.json_response([a.model_dump(mode="json") for a in agencies])


async def agency_assignments(request: web.Request) -> web.Response:
    """An agency's work queue: its own officers, coordinators and admins (the scope comes from the token)."""
    code = request.match_info["code"].upper()
    require_staff(request, Role.OFFICER, Role.COORDINATOR, Role.ADMIN, agency=code)
    try:
        limit = min(int(request.query.get("limit", "50")), 500)
    except ValueError:
        return json_error(400, "invalid_limit", "Tham số limit phải là số nguyên.", "limit")
    assignments = await service.assignments_of(request.app[DB_POOL], code, max(limit, 1))
    if assignments is None:
        return json_error(404, "agency_not_found", "Không tìm thấy cơ quan.")
    return web.json_response([a.model_dump(mode="json") for a in assignments])
