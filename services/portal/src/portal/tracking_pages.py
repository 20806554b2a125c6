"""Following one's report (/tra-cuu): the tracking code and secret are posted once, then kept in the
session, so the citizen can answer the agency's question, rate the answer or reopen the report without
typing them again; "Đóng" forgets them. Neither ever appears in a URL.

What the page offers follows intake's `next_actions`: intake decides what is allowed and until when.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp_session import Session, get_session

from portal.app_keys import BACKENDS
from portal.backends import Answer
from portal.rendering import render
from portal.submit_pages import media_problem, upload_to_media

MAX_REPLY_FILES = 10  # as intake allows with one information reply

TRACKING = "tracking"  # {code, secret} of the report this browser is following
FLASH = "tracking_flash"  # what the last action did, shown once
RATINGS = (
    ("hai_long", "Hài lòng"),
    ("chap_nhan_duoc", "Chấp nhận được"),
    ("khong_hai_long", "Không hài lòng"),
)
NOT_FOUND = "Không tìm thấy phản ánh với mã tra cứu và mã bí mật này. Vui lòng kiểm tra lại."


async def show(request: web.Request) -> web.Response:
    session = await get_session(request)
    followed = _followed(session)
    if followed is None:
        return await render(request, "citizen/track_form.html", code="", error=None)
    answer = await _call(request, followed, "GET", "")
    if answer.status != 200:
        session.pop(TRACKING, None)  # locked meanwhile, or the secret no longer opens it: ask again
        return await render(request, "citizen/track_form.html", code=followed["code"], error=_lookup_error(answer))
    return await _render_report(request, session, answer.body)


async def open_report(request: web.Request) -> web.StreamResponse:
    post = await request.post()
    code = str(post.get("code") or "").strip().upper()[:20]
    secret = str(post.get("secret") or "").strip()[:200]
    if not code or not secret:
        error = "Vui lòng nhập mã tra cứu và mã bí mật được cấp khi gửi phản ánh."
        return await render(request, "citizen/track_form.html", status=422, code=code, error=error)
    followed = {"code": code, "secret": secret}
    answer = await _call(request, followed, "GET", "")
    if answer.status != 200:
        status = 429 if answer.status == 429 else 404
        return await render(request, "citizen/track_form.html", status=status, code=code, error=_lookup_error(answer))
    session = await get_session(request)
    session[TRACKING] = followed
    raise web.HTTPSeeOther("/tra-cuu")  # a refresh then looks the report up again, never re-posts the secret


async def rate(request: web.Request) -> web.StreamResponse:
    post = await request.post()
    body = {"rating": str(post.get("rating") or ""), "comment": str(post.get("comment") or "").strip() or None}
    if body["rating"] not in dict(RATINGS):
        return await _action_failed(request, {"rating": "Vui lòng chọn mức độ hài lòng."}, post)
    return await _act(request, "rating", body, "Cảm ơn bạn đã đánh giá kết quả giải quyết.", post)


async def reopen(request: web.Request) -> web.StreamResponse:
    post = await request.post()
    body = {"reason": str(post.get("reason") or "").strip()}
    return await _act(request, "reopen", body, "Phản ánh đã được mở lại và chuyển đến cơ quan xử lý.", post)


async def provide_information(request: web.Request) -> web.StreamResponse:
    """The reply to the agency's question, with the photos, videos or recordings it asked for: each file goes
    to media first and travels with its upload token, so media keeps it with the report for the agency."""
    post = await request.post()
    media: list[dict[str, str]] = []
    for item in post.getall("tep", []):
        if not isinstance(item, web.FileField) or not item.filename:
            continue  # the file input left empty still sends an empty part
        if len(media) >= MAX_REPLY_FILES:
            return await _action_failed(request, {"tep": f"Tối đa {MAX_REPLY_FILES} tệp."}, post)
        answer = await upload_to_media(request, item)
        if answer.status != 201:
            return await _action_failed(request, {"tep": f"{item.filename}: {media_problem(answer)}"}, post)
        media.append({"id": answer.body["id"], "upload_token": answer.body["upload_token"]})
    body = {"text": str(post.get("text") or "").strip(), "media": media}
    return await _act(request, "information", body, "Đã gửi thông tin bổ sung đến cơ quan xử lý.", post)


async def close(request: web.Request) -> web.StreamResponse:
    session = await get_session(request)
    session.pop(TRACKING, None)
    session.pop(FLASH, None)
    raise web.HTTPSeeOther("/tra-cuu")


async def _act(request: web.Request, action: str, body: dict[str, Any], done: str, post: Any) -> web.StreamResponse:
    session = await get_session(request)
    followed = _followed(session)
    if followed is None:
        raise web.HTTPSeeOther("/tra-cuu")
    answer = await _call(request, followed, "POST", f"/{action}", body)
    if answer.status == 200:
        session[FLASH] = done
        raise web.HTTPSeeOther("/tra-cuu")
    if answer.status in (404, 429):
        session.pop(TRACKING, None)
        return await render(request, "citizen/track_form.html", status=answer.status, code=followed["code"],
                            error=_lookup_error(answer))  # fmt: skip
    errors = {str(e.get("field") or ""): str(e.get("message") or "") for e in _errors(answer)}
    return await _action_failed(request, errors or {"": "Thao tác chưa thực hiện được."}, post, answer.status)


async def _action_failed(
    request: web.Request, errors: dict[str, str], post: Any, status: int = 422
) -> web.StreamResponse:
    """The report again, with the action's errors by field and what the citizen typed."""
    session = await get_session(request)
    followed = _followed(session)
    if followed is None:
        raise web.HTTPSeeOther("/tra-cuu")
    answer = await _call(request, followed, "GET", "")
    if answer.status != 200:
        raise web.HTTPSeeOther("/tra-cuu")
    typed = {name: str(post.get(name) or "") for name in ("rating", "comment", "reason", "text")}
    return await _render_report(request, session, answer.body, errors=errors, typed=typed, status=status)


async def _render_report(
    request: web.Request,
    session: Session,
    report: dict[str, Any],
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    actions = {a["action"]: a.get("until") for a in report.get("next_actions") or []}
    return await render(
        request,
        "citizen/track.html",
        status=status,
        report=report,
        actions=actions,
        ratings=RATINGS,
        flash=session.pop(FLASH, None),
        errors=errors or {},
        typed=typed or {},
    )


async def _call(request: web.Request, followed: dict[str, str], method: str, action: str, body: Any = None) -> Answer:
    return await request.app[BACKENDS].call(
        "intake",
        method,
        f"/api/v1/reports/{followed['code']}{action}",
        json=body,
        headers={"X-Tracking-Secret": followed["secret"]},
    )


def _followed(session: Session) -> dict[str, str] | None:
    found = session.get(TRACKING)
    if isinstance(found, dict) and isinstance(found.get("code"), str) and isinstance(found.get("secret"), str):
        return {"code": found["code"], "secret": found["secret"]}
    return None


def _lookup_error(answer: Answer) -> str:
    if answer.status == 429:
        return "Mã bí mật bị nhập sai quá nhiều lần nên phản ánh tạm thời bị khóa tra cứu. Vui lòng thử lại sau."
    return NOT_FOUND


def _errors(answer: Answer) -> list[dict[str, Any]]:
    errors = answer.body.get("errors") if isinstance(answer.body, dict) else None
    return [e for e in errors or [] if isinstance(e, dict)]
