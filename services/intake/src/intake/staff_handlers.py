"""HTTP handlers of staff's views: the caller comes from the verified token, never from the request."""

from __future__ import annotations

import uuid

from aiohttp import web

from intake import staff
from intake.app_keys import VAULT
from paht_shared.auth import Role, require_staff
from paht_shared.runtime import DB_POOL
from paht_shared.web import RETRY_AFTER_SECONDS, json_error

# Personal data must not stay in a browser's or a proxy's cache; set on every answer, refusals included.
NO_STORE = {"Cache-Control": "no-store"}
REASON_MESSAGE = (
    f"Vui lòng nêu lý do xem thông tin người phản ánh (từ {staff.REASON_LENGTH[0]} đến {staff.REASON_LENGTH[1]} ký tự)."
)
NOT_FOUND_MESSAGE = "Không tìm thấy phản ánh."
NOT_SHARED_MESSAGE = "Người phản ánh không đồng ý cung cấp thông tin cá nhân hoặc gửi ẩn danh."
AUDIT_UNAVAILABLE_MESSAGE = "Chưa ghi được nhật ký truy cập nên chưa thể hiển thị thông tin, vui lòng thử lại sau."


def add_staff_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/staff/reports/{report_id}/reporter", get_reporter)


def _answer(response: web.Response) -> web.Response:
    response.headers.update(NO_STORE)
    return response


async def get_reporter(request: web.Request) -> web.Response:
    """Who sent a report, for officers of the agency now responsible, coordinators and admins, with a stated
    reason that goes into the audit log. `?reason=...`: 10-500 characters."""
    caller = require_staff(request, Role.OFFICER, Role.COORDINATOR, Role.ADMIN)
    try:
        reason = staff.stated_reason(request.query.get("reason"))
    except staff.InvalidReason:
        return _answer(json_error(422, "reason_required", REASON_MESSAGE, "reason"))
    try:
        report_id = uuid.UUID(request.match_info["report_id"])
    except ValueError:
        return _answer(json_error(404, "report_not_found", NOT_FOUND_MESSAGE))
    try:
        view = await staff.view_reporter(request.app[DB_POOL], request.app[VAULT], caller, report_id, reason)
    except staff.ReportNotFound:
        return _answer(json_error(404, "report_not_found", NOT_FOUND_MESSAGE))
    except staff.IdentityNotShared:
        return _answer(json_error(403, "identity_not_shared", NOT_SHARED_MESSAGE))
    except staff.AuditUnavailable:
        response = json_error(503, "audit_unavailable", AUDIT_UNAVAILABLE_MESSAGE)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return _answer(response)
    return _answer(web.json_response(view.model_dump(mode="json")))
