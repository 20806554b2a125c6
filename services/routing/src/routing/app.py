"""build_app(settings) -> the routing web application (agency and admin API)."""

from __future__ import annotations

from aiohttp import web

from paht_shared.runtime import DB_POOL, service_app
from paht_shared.web import json_error
from routing import repository
from routing.config import Settings


async def list_agencies(request: web.Request) -> web.Response:
    async with request.app[DB_POOL].acquire() as conn:
        rows = await repository.list_agencies(conn)
    return web.json_response([{"code": r["code"], "name": r["name"], "email": r["email"]} for r in rows])


async def agency_assignments(request: web.Request) -> web.Response:
    code = request.match_info["code"].upper()
    try:
        limit = min(int(request.query.get("limit", "50")), 500)
    except ValueError:
        return json_error(400, "invalid_limit", "Tham số limit phải là số nguyên.", "limit")
    async with request.app[DB_POOL].acquire() as conn:
        if await repository.find_agency(conn, code) is None:
            return json_error(404, "agency_not_found", "Không tìm thấy cơ quan.")
        rows = await repository.assignments_of(conn, code, max(limit, 1))
    return web.json_response(
        [
            {
                "report_id": str(r["report_id"]),
                "category": r["category"],
                "ward_code": r["ward_code"],
                "title": r["title"],
                "triage": r["triage"],
                "status": r["status"],
                "assigned_at": r["assigned_at"].isoformat(),
                "due_at": r["due_at"].isoformat(),
            }
            for r in rows
        ]
    )


def build_app(settings: Settings) -> web.Application:
    app = service_app(settings)
    app.router.add_get("/api/v1/agencies", list_agencies)
    app.router.add_get("/api/v1/agencies/{code}/assignments", agency_assignments)
    return app
