"""The agency console: the agency's queue, a report's detail with its files, and the agency's actions.

Officers see their own agency's reports only (routing decides that from the token: another agency's report
is a 404 there, and a 404 page here). Coordinators and admins may pick an agency. Every action is a form
posted here, sent to routing with the staff member's token, then a 303 back to the report with a message;
a refusal (409, 422) is shown on the report with what was typed kept.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web
from multidict import MultiDictProxy, MultiMapping

from paht_shared.contracts.status import STATUS_LABELS, ReportStatus
from portal.app_keys import BACKENDS
from portal.backends import Unavailable
from portal.rendering import render
from portal.staff_login import (
    Staff,
    error_message,
    flash,
    not_found,
    require_staff_session,
    staff_call,
    staff_page,
    take_flash,
)

AGENCY_ROLES = ("officer", "coordinator", "admin")
MEDIA_NAMES = frozenset({"display", "thumbnail", "poster", "video", "audio"})
MAX_ANSWER_FILES = 10

ACTION_LABELS = {
    "assign": "Phân công xử lý",
    "accept": "Tiếp nhận xử lý",
    "return": "Trả lại (không đúng thẩm quyền)",
    "request_info": "Yêu cầu bổ sung thông tin",
    "request_extension": "Đề nghị gia hạn",
    "update": "Cập nhật tiến độ",
    "contribute": "Ý kiến phối hợp",
    "answer": "Trả lời",
    "reject": "Từ chối",
    "reassign": "Điều chuyển",
    "merge": "Gộp phản ánh",
    "decide_extension": "Quyết định gia hạn",
    "information_provided": "Người dân bổ sung thông tin",
    "reopen": "Người dân mở lại",
    "rate": "Người dân đánh giá",
    "overdue": "Quá hạn",
}
REJECT_REASONS = {
    "out_of_scope": "Không thuộc phạm vi phản ánh hiện trường",
    "duplicate": "Trùng với phản ánh đã tiếp nhận",
    "offensive": "Lời lẽ xúc phạm, không phù hợp",
    "other_channel": "Khiếu nại, tố cáo: gửi theo kênh riêng",
}
# routing's 409 codes and the shape errors of each action's fields, in the words of the screen
REFUSALS = {
    "already_accepted": "Phản ánh đã được tiếp nhận xử lý.",
    "not_accepted": "Cần bấm «Tiếp nhận xử lý» trước khi thực hiện thao tác này.",
    "report_closed": "Phản ánh đã kết thúc xử lý.",
    "illegal_transition": "Thao tác này không áp dụng cho trạng thái hiện tại của phản ánh.",
    "extension_pending": "Đã có một đề nghị gia hạn đang chờ duyệt.",
    "not_lead_agency": "Chỉ cơ quan chủ trì mới thực hiện được thao tác này.",
    "report_not_found": "Không tìm thấy phản ánh (có thể đã được chuyển cho cơ quan khác).",
}
FIELD_RULES = {
    "reason": "Lý do cần từ 10 đến 1.000 ký tự.",
    "question": "Câu hỏi cần từ 10 đến 2.000 ký tự.",
    "days": "Số ngày gia hạn là số nguyên từ 1 đến 60.",
    "text": "Nội dung cần từ 5 đến 5.000 ký tự.",
    "answer": "Nội dung trả lời cần từ 20 đến 10.000 ký tự.",
    "reason_code": "Vui lòng chọn lý do từ chối.",
    "note": "Ghi chú tối đa 1.000 ký tự.",
    "media": "Tối đa 10 tệp đính kèm.",
}


def add_routes(app: web.Application) -> None:
    app.router.add_get("/co-quan", queue)
    app.router.add_get("/co-quan/phan-anh/{report_id}", report)
    app.router.add_post("/co-quan/phan-anh/{report_id}/{action}", act)
    app.router.add_get("/co-quan/tep/{media_id}/{name}", media_file)


# --- pick lists -----------------------------------------------------------------------------------------


async def categories(request: web.Request) -> list[dict[str, Any]]:
    """The categories under their fields (routing's tree): [{code, name, categories: [{code, name}]}]."""
    answer = await request.app[BACKENDS].call("routing", "GET", "/api/v1/categories")
    return answer.body if answer.ok and isinstance(answer.body, list) else []


async def wards(request: web.Request) -> list[dict[str, Any]]:
    answer = await request.app[BACKENDS].call("intake", "GET", "/api/v1/wards")
    return answer.body if answer.ok and isinstance(answer.body, list) else []


async def agencies(request: web.Request) -> list[dict[str, Any]]:
    answer = await request.app[BACKENDS].call("routing", "GET", "/api/v1/agencies")
    return answer.body if answer.ok and isinstance(answer.body, list) else []


def category_names(tree: list[dict[str, Any]]) -> dict[str, str]:
    return {c["code"]: c["name"] for field in tree for c in field.get("categories", [])}


def status_label(status: str) -> str:
    try:
        return STATUS_LABELS[ReportStatus(status)]
    except ValueError:
        return status


def queue_filters(query: MultiMapping[str], staff: Staff) -> dict[str, str]:
    """The queue's filters as routing takes them; an officer's agency comes from the token, not from here."""
    found: dict[str, str] = {}
    status = query.get("status", "")
    if status in {s.value for s in ReportStatus}:
        found["status"] = status
    if query.get("overdue") in ("1", "true"):
        found["overdue"] = "true"
    category = query.get("category", "")
    if category and len(category) <= 64:
        found["category"] = category
    agency = query.get("agency", "").upper()
    if staff.every_agency and agency and len(agency) <= 40:
        found["agency"] = agency
    page = query.get("page", "1")
    found["page"] = page if page.isdigit() and 0 < int(page) <= 10_000 else "1"
    return found


# --- pages ----------------------------------------------------------------------------------------------


@staff_page
async def queue(request: web.Request) -> web.Response:
    staff = await require_staff_session(request, *AGENCY_ROLES)
    filters = queue_filters(request.query, staff)
    answer, tree, agency_list = await asyncio.gather(
        staff_call(request, staff, "routing", "GET", "/api/v1/work/reports", params=filters | {"per_page": "50"}),
        categories(request),
        agencies(request) if staff.every_agency else _nothing(),
    )
    error = None if answer.ok else error_message(answer, {}, "Không tải được danh sách phản ánh.")
    body: dict[str, Any] = answer.body if answer.ok and isinstance(answer.body, dict) else {"items": [], "total": 0}
    pages = max(1, -(-int(body.get("total", 0)) // 50))
    return await render(
        request,
        "console/queue.html",
        items=body["items"],
        total=body.get("total", 0),
        page=int(filters["page"]),
        pages=pages,
        filters=filters,
        statuses=[(s.value, s.label) for s in ReportStatus],
        categories=tree,
        category_names=category_names(tree),
        agencies=agency_list,
        status_label=status_label,
        error=error,
        flash=await take_flash(request),
    )


async def _nothing() -> list[dict[str, Any]]:
    return []


def _report_path(report_id: str) -> str:
    return f"/co-quan/phan-anh/{report_id}"


async def _checked_id(request: web.Request, key: str) -> str:
    try:
        return str(uuid.UUID(request.match_info[key]))
    except ValueError:
        raise await not_found(request) from None


@staff_page
async def report(request: web.Request) -> web.Response:
    staff = await require_staff_session(request, *AGENCY_ROLES)
    return await _report_page(request, staff, await _checked_id(request, "report_id"))


async def _report_page(
    request: web.Request,
    staff: Staff,
    report_id: str,
    *,
    status: int = 200,
    refused: dict[str, str] | None = None,
    problem: str | None = None,
    values: dict[str, str] | None = None,
) -> web.Response:
    """The report; `refused`: a form's field problems (next to it, with `values` kept), `problem`: a refusal of
    the action as such (409: the report moved on), shown above the actions."""
    answer = await staff_call(request, staff, "routing", "GET", f"/api/v1/work/reports/{report_id}")
    if answer.status == 404:
        raise await not_found(request)
    if not answer.ok or not isinstance(answer.body, dict):
        raise Unavailable("routing")
    found = answer.body
    files, answer_files, tree, agency_list = await asyncio.gather(
        _media_of(request, staff, found.get("media_ids", [])),
        _media_of(request, staff, found.get("answer_media_ids", [])),
        categories(request),
        agencies(request) if staff.every_agency else _nothing(),
    )
    return await render(
        request,
        "console/report.html",
        status=status,
        report=found,
        files=files,
        answer_files=answer_files,
        category_names=category_names(tree),
        agencies=agency_list,
        status_label=status_label,
        action_labels=ACTION_LABELS,
        reject_reasons=REJECT_REASONS,
        refused=refused or {},
        problem=problem,
        values=values or {},
        flash=await take_flash(request),
        back=_report_path(report_id),
    )


async def _media_of(request: web.Request, staff: Staff, ids: list[str]) -> list[dict[str, Any]]:
    """Each file as the staff member may see it: its kind, status and which derivatives exist."""

    async def one(media_id: str) -> dict[str, Any]:
        answer = await request.app[BACKENDS].call("media", "GET", f"/api/v1/media/{media_id}", token=staff.token)
        shown = answer.body if answer.ok and isinstance(answer.body, dict) else {}
        return {
            "id": media_id,
            "kind": shown.get("kind", ""),
            "status": shown.get("status", "unavailable"),
            "names": sorted(set(shown.get("derivatives") or {}) & MEDIA_NAMES),
        }

    return list(await asyncio.gather(*(one(str(i)) for i in ids)))


@staff_page
async def media_file(request: web.Request) -> web.StreamResponse:
    """A sanitised file, streamed through the portal: pages show only our own URLs (CSP `img-src 'self'`), and
    media's signed link, fetched here with the staff member's right to see the file, never reaches the browser."""
    staff = await require_staff_session(request, *AGENCY_ROLES)
    try:
        media_id = str(uuid.UUID(request.match_info["media_id"]))
    except ValueError:
        raise web.HTTPNotFound from None
    name = request.match_info["name"]
    if name not in MEDIA_NAMES:
        raise web.HTTPNotFound
    shown = await staff_call(request, staff, "media", "GET", f"/api/v1/media/{media_id}")
    links = shown.body.get("derivatives") if shown.ok and isinstance(shown.body, dict) else None
    link = links.get(name) if isinstance(links, dict) else None
    if not isinstance(link, str) or not link.startswith("/api/v1/media/"):
        raise web.HTTPNotFound
    async with request.app[BACKENDS].download("media", link) as upstream:
        if upstream.status != 200:
            raise web.HTTPNotFound
        response = web.StreamResponse(
            headers={
                "Content-Type": upstream.headers.get("Content-Type", "application/octet-stream"),
                "Content-Disposition": "inline",
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-store",
            }
        )
        if upstream.content_length is not None:
            response.content_length = upstream.content_length
        await response.prepare(request)
        try:
            async for chunk in upstream.content.iter_chunked(256 * 1024):
                await response.write(chunk)
        except (OSError, TimeoutError):
            return response  # the body stops short: the browser sees a broken file, not a whole one
    await response.write_eof()
    return response


# --- actions --------------------------------------------------------------------------------------------


@staff_page
async def act(request: web.Request) -> web.Response:
    report_id = await _checked_id(request, "report_id")
    back = _report_path(report_id)
    staff = await require_staff_session(request, *AGENCY_ROLES, back=back)
    action = request.match_info["action"]
    if action not in ACTIONS:
        raise await not_found(request)
    form = await request.post()
    values = {k: str(v) for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    path, body, done = ACTIONS[action](values)
    if action == "tra-loi":
        uploaded = await _upload_answer_files(request, form)
        if isinstance(uploaded, str):
            return await _report_page(request, staff, report_id, status=422, refused={action: uploaded}, values=values)
        # with their upload tokens: media keeps proven files for the report (ids alone would be deleted unclaimed)
        body["media"] = uploaded
    answer = await staff_call(
        request, staff, "routing", "POST", f"/api/v1/work/reports/{report_id}/{path}", json=body, back=back
    )
    if answer.ok:
        await flash(request, done)
        raise web.HTTPSeeOther(back)
    if answer.status == 404:
        raise await not_found(request)
    errors = answer.field_errors()
    if answer.status == 422 and errors:
        # the answer's text has its own length rule: the screen names it as the answer
        keys = {field: "answer" if (action, field) == ("tra-loi", "text") else field for field in errors}
        rules = " ".join(FIELD_RULES.get(keys[field], message) for field, message in errors.items())
        return await _report_page(request, staff, report_id, status=422, refused={action: rules}, values=values)
    problem = error_message(answer, REFUSALS, "Không thực hiện được thao tác này.")
    return await _report_page(request, staff, report_id, status=answer.status, problem=problem, values=values)


def _days(value: str) -> int | str:
    return int(value) if value.strip().isdigit() else value


# the form's action -> (routing's path, its JSON body, the message once done)
ACTIONS: dict[str, Callable[[dict[str, str]], tuple[str, dict[str, Any], str]]] = {
    "tiep-nhan": lambda f: ("accept", {}, "Đã tiếp nhận xử lý phản ánh."),
    "tra-lai": lambda f: ("return", {"reason": f.get("reason", "")}, "Đã trả lại phản ánh."),
    "yeu-cau-bo-sung": lambda f: (
        "information-requests",
        {"question": f.get("question", "")},
        "Đã gửi yêu cầu bổ sung thông tin cho người phản ánh.",
    ),
    "gia-han": lambda f: (
        "extension-requests",
        {"days": _days(f.get("days", "")), "reason": f.get("reason", "")},
        "Đã gửi đề nghị gia hạn đến điều phối viên.",
    ),
    "cap-nhat": lambda f: ("updates", {"text": f.get("text", "")}, "Đã cập nhật tiến độ."),
    "tra-loi": lambda f: ("answer", {"text": f.get("answer", "")}, "Đã gửi câu trả lời cho người phản ánh."),
    "tu-choi": lambda f: (
        "reject",
        {"reason_code": f.get("reason_code", ""), "note": f.get("note") or None},
        "Đã từ chối phản ánh.",
    ),
}


async def _upload_answer_files(request: web.Request, form: MultiDictProxy[Any]) -> list[dict[str, str]] | str:
    """The answer's attachments, uploaded to media: [{id, upload_token}] for routing. A refusal's message otherwise."""
    files = [f for f in form.getall("files", []) if isinstance(f, web.FileField) and f.filename]
    if len(files) > MAX_ANSWER_FILES:
        return FIELD_RULES["media"]
    proofs: list[dict[str, str]] = []
    for file in files:
        uploaded = await upload(request, file)
        if isinstance(uploaded, str):
            return uploaded
        proofs.append({"id": str(uploaded["id"]), "upload_token": str(uploaded["upload_token"])})
    return proofs


UPLOAD_REFUSALS = {
    "unsupported_media_type": "Chỉ nhận ảnh, video hoặc âm thanh (JPEG, PNG, WebP, HEIC, MP4, WebM, MP3, M4A, WAV…).",
    "file_too_large": "Tệp quá lớn (ảnh tối đa 15 MB, video 100 MB, âm thanh 20 MB).",
    "empty_file": "Tệp rỗng.",
}


async def upload(request: web.Request, file: web.FileField) -> dict[str, Any] | str:
    """One file relayed to media (`POST /api/v1/media`): its answer {id, upload_token, kind, …}, or why not."""
    data = aiohttp.FormData()
    file.file.seek(0)
    data.add_field("file", file.file, filename=file.filename, content_type=file.content_type)
    answer = await request.app[BACKENDS].call("media", "POST", "/api/v1/media", data=data)
    if answer.status == 201 and isinstance(answer.body, dict):
        return answer.body
    return f"{file.filename}: " + error_message(answer, UPLOAD_REFUSALS, "Không tải lên được tệp.")
