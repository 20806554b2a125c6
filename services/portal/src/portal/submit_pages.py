"""Sending a report: the form (/gui-phan-anh), file uploads (/tai-len, for the page's script), and the
receipt (/da-gui), which shows the tracking secret once.

Without JavaScript the files come with the form and are uploaded to media here, before the report is sent;
with it they are uploaded as soon as they are chosen and the form carries their ids and tokens.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import structlog
from aiohttp import web
from aiohttp_session import Session, get_session
from multidict import MultiDictProxy

from paht_shared.envelope import utc_now
from portal.app_keys import BACKENDS, SESSIONS
from portal.backends import Answer, Unavailable
from portal.pick_lists import PICK_LISTS
from portal.rendering import render
from portal.report_form import FILE_INPUTS, GENERAL, MAX_FILES, ReportForm, Upload, uploads_of

log = structlog.get_logger("portal.submit")

RECEIPT = "receipt"  # the last receipt, shown once by /da-gui
SENT = "sent_keys"  # idempotency key -> tracking code of the reports this browser sent
KEPT_SENT_KEYS = 20
EARLIER_POST_WAIT_SECONDS = 5.0

_MEDIA_REFUSED = {
    413: "Tệp quá lớn (ảnh tối đa 15 MB, video 100 MB, ghi âm 20 MB).",
    415: "Loại tệp không được hỗ trợ. Vui lòng chọn ảnh (JPEG, PNG, WebP, HEIC), video (MP4, MOV, WebM) "
    "hoặc ghi âm (MP3, M4A, Ogg, WAV).",
}


async def show_form(request: web.Request) -> web.Response:
    return await _render_form(request, ReportForm.empty(utc_now()))


async def _render_form(request: web.Request, form: ReportForm, status: int = 200) -> web.Response:
    lists = await request.app[PICK_LISTS].get(request)
    return await render(request, "citizen/form.html", status=status, form=form, lists=lists, max_files=MAX_FILES)


async def submit(request: web.Request) -> web.StreamResponse:
    post = await request.post()
    form = ReportForm.posted(post, uploads_of(_strings(post, "media"), _strings(post, "media_name")))
    try:
        await _upload_posted_files(request, post, form)
        if form.errors:
            return await _render_form(request, form, status=422)
        body = form.submission()
        if form.errors:
            return await _render_form(request, form, status=422)
        headers = {"Idempotency-Key": form.idempotency_key}
        if request.remote:
            headers["X-Forwarded-For"] = request.remote  # intake limits submissions per citizen's address
        answer = await request.app[BACKENDS].call("intake", "POST", "/api/v1/reports", json=body, headers=headers)
    except Unavailable:
        form.errors[GENERAL] = (
            "Hệ thống tạm thời gián đoạn, phản ánh chưa được gửi. Thông tin bạn nhập vẫn được giữ nguyên: "
            "vui lòng bấm “Gửi phản ánh” lại sau ít phút."
        )
        response = await _render_form(request, form, status=503)
        response.headers["Retry-After"] = "30"
        return response
    return await _answered(request, form, answer)


async def _answered(request: web.Request, form: ReportForm, answer: Answer) -> web.StreamResponse:
    session = await get_session(request)
    if answer.status == 201:
        _remember(session, form.idempotency_key, answer.body)
        log.info("report_sent", tracking_code=answer.body.get("tracking_code"))
        raise web.HTTPSeeOther("/da-gui")
    if answer.status == 409 and await _sent_earlier(request, session, form.idempotency_key):
        raise web.HTTPSeeOther("/da-gui")  # a double click: the first post made the report
    if answer.status == 422:
        form.add_errors(_errors(answer))
    elif answer.status == 429:
        minutes = max(1, (int(answer.headers.get("Retry-After", "60") or 60) + 59) // 60)
        form.errors[GENERAL] = (
            f"Bạn đã gửi nhiều phản ánh trong thời gian ngắn. Vui lòng thử lại sau khoảng {minutes} phút; "
            "thông tin bạn nhập vẫn được giữ nguyên."
        )
    else:
        log.warning("report_refused", status=answer.status)
        form.errors[GENERAL] = " ".join(_messages(answer)) or "Không gửi được phản ánh. Vui lòng thử lại."
    return await _render_form(request, form, status=answer.status if answer.status in (422, 429) else 400)


def _remember(session: Session, key: str, receipt: dict[str, Any]) -> None:
    session[RECEIPT] = {
        "tracking_code": receipt["tracking_code"],
        "tracking_secret": receipt["tracking_secret"],
        "status_label": receipt.get("status_label", ""),
        "submitted_at": receipt.get("submitted_at"),
        "received_at": receipt.get("received_at"),
    }
    sent = dict(session.get(SENT) or {})
    sent[key] = receipt["tracking_code"]
    session[SENT] = dict(list(sent.items())[-KEPT_SENT_KEYS:])


async def _sent_earlier(request: web.Request, session: Session, key: str) -> bool:
    """Intake says this key already made a report with other files: the same form posted twice (without the
    script, each post uploads its files again). The first post may still be saving its receipt to the
    session: wait for it, then show that receipt instead of an error."""
    if key in (session.get(SENT) or {}):
        return True
    deadline = asyncio.get_running_loop().time() + EARLIER_POST_WAIT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        stored = await request.app[SESSIONS].load_session(request)
        if key in (stored.get(SENT) or {}):
            # This request's copy of the session is saved after the first one's: carry the receipt over.
            session[SENT] = stored[SENT]
            if RECEIPT in stored:
                session[RECEIPT] = stored[RECEIPT]
            return True
        await asyncio.sleep(0.25)
    return False


async def _upload_posted_files(request: web.Request, post: MultiDictProxy[Any], form: ReportForm) -> None:
    """Each file that came with the form goes to media; a refused one becomes the files' field error."""
    for name in FILE_INPUTS:
        for item in post.getall(name, []):
            if not isinstance(item, web.FileField) or not item.filename or _size(item) == 0:
                continue  # an input left empty still sends an empty part
            if len(form.uploads) >= MAX_FILES:
                form.errors["media"] = f"Mỗi phản ánh đính kèm tối đa {MAX_FILES} tệp."
                return
            answer = await upload_to_media(request, item)
            if answer.status == 201:
                form.uploads.append(Upload(answer.body["id"], answer.body["upload_token"], item.filename[:200]))
            else:
                form.errors["media"] = f"{item.filename}: {media_problem(answer)}"


async def upload_to_media(request: web.Request, item: web.FileField) -> Answer:
    item.file.seek(0)
    data = aiohttp.FormData()
    data.add_field("file", item.file, filename=item.filename, content_type=item.content_type)
    return await request.app[BACKENDS].call("media", "POST", "/api/v1/media", data=data)


async def upload(request: web.Request) -> web.Response:
    """POST /tai-len (the page's script, X-CSRF-Token): one file to media → {id, token, name} as JSON, or
    {error} with media's status. The token goes back into the form's hidden field, never into a URL."""
    post = await request.post()
    item = post.get("file")
    if not isinstance(item, web.FileField) or not item.filename or _size(item) == 0:
        return web.json_response({"error": "Vui lòng chọn một tệp."}, status=422)
    try:
        answer = await upload_to_media(request, item)
    except Unavailable:
        return web.json_response({"error": "Chưa tải lên được, vui lòng thử lại sau ít phút."}, status=503)
    if answer.status != 201:
        return web.json_response({"error": media_problem(answer)}, status=answer.status)
    return web.json_response(
        {"id": answer.body["id"], "token": answer.body["upload_token"], "name": item.filename[:200]}, status=201
    )


async def receipt(request: web.Request) -> web.StreamResponse:
    """The receipt of the report just sent. The secret is shown this once: the session keeps only the code."""
    session = await get_session(request)
    found = session.get(RECEIPT)
    if not isinstance(found, dict):
        raise web.HTTPSeeOther("/gui-phan-anh")
    shown = dict(found)
    session[RECEIPT] = {k: v for k, v in found.items() if k != "tracking_secret"}
    return await render(request, "citizen/sent.html", receipt=shown)


def media_problem(answer: Answer) -> str:
    return _MEDIA_REFUSED.get(answer.status) or next(iter(_messages(answer)), "Không tải lên được tệp này.")


def _errors(answer: Answer) -> list[dict[str, Any]]:
    errors = answer.body.get("errors") if isinstance(answer.body, dict) else None
    return [e for e in errors or [] if isinstance(e, dict)]


def _messages(answer: Answer) -> list[str]:
    return [str(e["message"]) for e in _errors(answer) if e.get("message")]


def _strings(post: MultiDictProxy[Any], name: str) -> list[str]:
    return [v for v in post.getall(name, []) if isinstance(v, str)]


def _size(item: web.FileField) -> int:
    item.file.seek(0, 2)
    size = item.file.tell()
    item.file.seek(0)
    return size
