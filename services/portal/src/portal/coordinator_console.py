"""The coordinator's views: the triage queue (reports no rule could route), the overdue list, every agency's
load, and reassigning a report to another lead agency. Coordinators and admins only."""

from __future__ import annotations

import asyncio

from aiohttp import web

from portal.agency_console import agencies, categories, category_names, status_label
from portal.rendering import render
from portal.staff_login import (
    error_message,
    flash,
    local_path,
    not_found,
    require_staff_session,
    staff_call,
    staff_page,
    take_flash,
)

COORDINATOR_ROLES = ("coordinator", "admin")
REASSIGN_REFUSALS = {
    "unknown_agency": "Cơ quan không tồn tại hoặc không còn hoạt động.",
    "report_closed": "Phản ánh đã kết thúc xử lý.",
    "illegal_transition": "Phản ánh ở trạng thái này không điều chuyển được.",
}
LISTS = {
    "triage": ("/api/v1/coordination/triage", "Phân loại: phản ánh chưa xác định được cơ quan xử lý"),
    "overdue": ("/api/v1/coordination/overdue", "Phản ánh quá hạn"),
}


def add_routes(app: web.Application) -> None:
    app.router.add_get("/co-quan/dieu-phoi", triage)
    app.router.add_get("/co-quan/qua-han", overdue)
    app.router.add_get("/co-quan/tai-xu-ly", load)
    app.router.add_post("/co-quan/phan-anh/{report_id}/dieu-chuyen", reassign)


@staff_page
async def triage(request: web.Request) -> web.Response:
    return await _list(request, "triage")


@staff_page
async def overdue(request: web.Request) -> web.Response:
    return await _list(request, "overdue")


async def _list(request: web.Request, which: str) -> web.Response:
    staff = await require_staff_session(request, *COORDINATOR_ROLES)
    path, title = LISTS[which]
    answer, tree, agency_list = await asyncio.gather(
        staff_call(request, staff, "routing", "GET", path, params={"per_page": "100"}),
        categories(request),
        agencies(request),
    )
    body = answer.body if answer.ok and isinstance(answer.body, dict) else {"items": [], "total": 0}
    return await render(
        request,
        "console/coordination.html",
        which=which,
        title=title,
        items=body["items"],
        total=body.get("total", 0),
        category_names=category_names(tree),
        agencies=agency_list,
        status_label=status_label,
        flash=await take_flash(request),
        back=request.path,
    )


@staff_page
async def load(request: web.Request) -> web.Response:
    staff = await require_staff_session(request, *COORDINATOR_ROLES)
    answer = await staff_call(request, staff, "routing", "GET", "/api/v1/coordination/load")
    rows = answer.body if answer.ok and isinstance(answer.body, list) else []
    return await render(request, "console/load.html", rows=rows)


@staff_page
async def reassign(request: web.Request) -> web.Response:
    """To another lead agency with a reason (fresh deadline); back to the page the form was on."""
    report_id = request.match_info["report_id"]
    form = await request.post()
    back = local_path(str(form.get("back", "")), "/co-quan/dieu-phoi")
    staff = await require_staff_session(request, *COORDINATOR_ROLES, back=back)
    body = {"agency_code": str(form.get("agency_code", "")), "reason": str(form.get("reason", ""))}
    answer = await staff_call(
        request, staff, "routing", "POST", f"/api/v1/coordination/reports/{report_id}/reassign", json=body, back=back
    )
    if answer.status == 404:
        raise await not_found(request)
    if answer.ok:
        await flash(request, f"Đã điều chuyển phản ánh đến {body['agency_code']}.")
    else:
        fields = answer.field_errors()
        message = (
            "Lý do điều chuyển cần từ 10 đến 1.000 ký tự."
            if "reason" in fields
            else "Vui lòng chọn cơ quan nhận."
            if "agency_code" in fields
            else error_message(answer, REASSIGN_REFUSALS, "Không điều chuyển được phản ánh.")
        )
        await flash(request, message, "error")
    raise web.HTTPSeeOther(back)
