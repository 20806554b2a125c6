"""The hotline 1022 operator console: a caller's report typed during the call, with the call recording, and
the caller's earlier reports looked up by phone.

The report goes to intake's operator door with the operator's token and an Idempotency-Key made when the form
was drawn: a double click or a reload after a lost answer is the same report, never two. A refusal shows each
message next to its field, with everything typed kept (and a recording already uploaded kept too).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from aiohttp import web
from aiohttp_session import get_session
from multidict import MultiDictProxy

from portal.agency_console import categories, upload, wards
from portal.rendering import render
from portal.staff_login import error_message, require_staff_session, staff_call, staff_page

OPERATOR_ROLES = ("operator", "coordinator")
RECORDING = "recording"  # session key: the recording uploaded for the form of one Idempotency-Key
DRAFT = "call_draft"  # session key: a call form sent after the token expired, shown again after the login

TEXT_FIELDS = (
    "caller_name",
    "caller_phone",
    "caller_email",
    "caller_address",
    "title",
    "category",
    "content",
    "ward_code",
    "address_text",
)
FLAGS = ("emergency", "public", "anonymous", "consent_use", "consent_publish")
# intake's field names -> the form's
FORM_FIELDS = {
    "reporter.full_name": "caller_name",
    "reporter.phone": "caller_phone",
    "reporter.email": "caller_email",
    "reporter.address": "caller_address",
    "reporter": "caller_phone",
    "title": "title",
    "category": "category",
    "content": "content",
    "location": "ward_code",
    "location.ward_code": "ward_code",
    "location.address_text": "address_text",
    "media": "recording",
}
LOOKUP_REFUSALS = {
    "invalid_phone": "Số điện thoại không hợp lệ.",
    "reason_required": "Vui lòng nêu lý do tra cứu (từ 10 đến 500 ký tự).",
}


def add_routes(app: web.Application) -> None:
    app.router.add_get("/tong-dai", call_form)
    app.router.add_post("/tong-dai", submit_call)
    app.router.add_get("/tong-dai/tra-cuu", lookup_form)
    app.router.add_post("/tong-dai/tra-cuu", lookup)


async def _form_page(
    request: web.Request,
    values: dict[str, str],
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    recording: dict[str, Any] | None = None,
) -> web.Response:
    tree, ward_list = await asyncio.gather(categories(request), wards(request))
    return await render(
        request,
        "console/operator.html",
        status=status,
        values=values,
        errors=errors or {},
        recording=recording,
        categories=tree,
        wards=ward_list,
    )


@staff_page
async def call_form(request: web.Request) -> web.Response:
    await require_staff_session(request, *OPERATOR_ROLES)
    draft = (await get_session(request)).pop(DRAFT, None)
    if isinstance(draft, dict):  # typed before a new login: the same call, the same key
        kept = (await get_session(request)).get(RECORDING)
        recording = kept if isinstance(kept, dict) and kept.get("key") == draft.get("idempotency_key") else None
        return await _form_page(request, {str(k): str(v) for k, v in draft.items()}, recording=recording)
    # new call, new key; consent to share the caller's identity with the agency is asked, not assumed
    return await _form_page(request, {"idempotency_key": str(uuid.uuid4())})


def _values(form: MultiDictProxy[Any]) -> dict[str, str]:
    values = {name: str(form.get(name, "")).strip() for name in TEXT_FIELDS}
    values |= {flag: "1" for flag in FLAGS if form.get(flag) == "1"}
    key = str(form.get("idempotency_key", ""))
    values["idempotency_key"] = key if 0 < len(key) <= 100 and key.isprintable() else str(uuid.uuid4())
    return values


def call_body(values: dict[str, str], recording: dict[str, Any] | None) -> dict[str, Any]:
    """The caller's report as intake's operator door takes it: only what was given, the rest left out."""
    reporter = {
        "full_name": values["caller_name"] or None,
        "phone": values["caller_phone"] or None,
        "email": values["caller_email"] or None,
        "address": values["caller_address"] or None,
    }
    location = {"ward_code": values["ward_code"] or None, "address_text": values["address_text"] or None}
    return {
        "reporter": {k: v for k, v in reporter.items() if v is not None},
        "title": values["title"],
        "category": values["category"] or None,
        "content": values["content"],
        "location": {k: v for k, v in location.items() if v is not None},
        "public": "public" in values,
        "anonymous": "anonymous" in values,
        "consent": {"use_personal_data": "consent_use" in values, "publish": "consent_publish" in values},
        "emergency": "emergency" in values,
        "media": [{"id": recording["id"], "upload_token": recording["upload_token"]}] if recording else [],
    }


@staff_page
async def submit_call(request: web.Request) -> web.Response:
    form = await request.post()
    values = _values(form)
    try:
        return await _submit_call(request, form, values)
    except web.HTTPSeeOther:
        # the token expired during the call: what was typed waits in the session for the login to carry over
        (await get_session(request))[DRAFT] = values
        raise


async def _submit_call(request: web.Request, form: MultiDictProxy[Any], values: dict[str, str]) -> web.Response:
    staff = await require_staff_session(request, *OPERATOR_ROLES, back="/tong-dai")
    session = await get_session(request)
    kept = session.get(RECORDING)
    recording = kept if isinstance(kept, dict) and kept.get("key") == values["idempotency_key"] else None
    file = form.get("recording")
    if isinstance(file, web.FileField) and file.filename:
        uploaded = await upload(request, file)
        if isinstance(uploaded, dict) and uploaded.get("kind") != "audio":
            uploaded = f"{file.filename}: tệp ghi âm phải là âm thanh (M4A, MP3, WAV, Ogg)."
        if isinstance(uploaded, str):
            return await _form_page(request, values, status=422, errors={"recording": uploaded}, recording=recording)
        recording = {
            "key": values["idempotency_key"],
            "id": uploaded["id"],
            "upload_token": uploaded["upload_token"],
            "name": file.filename,
        }
        # kept server-side: a refused form does not make the operator upload the recording again
        session[RECORDING] = recording
    answer = await staff_call(
        request,
        staff,
        "intake",
        "POST",
        "/api/v1/operator/reports",
        json=call_body(values, recording),
        headers={"Idempotency-Key": values["idempotency_key"]},
        back="/tong-dai",
    )
    if answer.status == 201 and isinstance(answer.body, dict):
        session.pop(RECORDING, None)
        return await render(request, "console/receipt.html", receipt=answer.body, values=values)
    errors: dict[str, str] = {}
    for field, message in answer.field_errors().items():
        name = FORM_FIELDS.get(field) or FORM_FIELDS.get(field.split(".")[0]) or ""
        errors.setdefault(name, message)
    if not errors:
        errors[""] = error_message(answer, {}, "Chưa gửi được phản ánh. Vui lòng kiểm tra và thử lại.")
    return await _form_page(request, values, status=422, errors=errors, recording=recording)


@staff_page
async def lookup_form(request: web.Request) -> web.Response:
    await require_staff_session(request, *OPERATOR_ROLES)
    return await render(request, "console/lookup.html", phone="", reason="", reports=None, error=None)


@staff_page
async def lookup(request: web.Request) -> web.Response:
    """The phone is posted, never put in a URL; intake audits every lookup with its reason."""
    staff = await require_staff_session(request, *OPERATOR_ROLES, back="/tong-dai/tra-cuu")
    form = await request.post()
    phone = str(form.get("phone", "")).strip()
    reason = str(form.get("reason", "")).strip()
    answer = await staff_call(
        request,
        staff,
        "intake",
        "POST",
        "/api/v1/operator/caller-lookups",
        json={"phone": phone, "reason": reason},
        back="/tong-dai/tra-cuu",
    )
    if answer.ok and isinstance(answer.body, dict):
        return await render(
            request, "console/lookup.html", phone=phone, reason=reason, reports=answer.body["reports"], error=None
        )
    message = error_message(answer, LOOKUP_REFUSALS, "Không tra cứu được. Vui lòng thử lại.")
    return await render(
        request, "console/lookup.html", status=422, phone=phone, reason=reason, reports=None, error=message
    )
