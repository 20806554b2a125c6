"""HTTP handlers of the hotline 1022 operator API. Hotline operators (and the coordinators who run the
hotline) only: the caller comes from the verified staff token, never from the request."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StringConstraints

from intake import handlers, hotline, staff
from intake.app_keys import RECEPTION, TENANT, VAULT
from intake.models import OperatorReport
from intake.service import IdempotencyKeyReused
from intake.staff_handlers import AUDIT_UNAVAILABLE_MESSAGE, NO_STORE
from intake.validation import InvalidRequest, check_submission
from paht_shared.auth import Identity, Role, require_staff
from paht_shared.envelope import utc_now
from paht_shared.runtime import DB_POOL
from paht_shared.web import CORRELATION_ID, RETRY_AFTER_SECONDS, json_error

HOTLINE_ROLES = (Role.OPERATOR, Role.COORDINATOR)
_LOW, _HIGH = staff.REASON_LENGTH
LOOKUP_REASON_MESSAGE = f"Vui lòng nêu lý do tra cứu phản ánh của người gọi (từ {_LOW} đến {_HIGH} ký tự)."


class CallerLookup(BaseModel):
    """In the body, not the URL: a phone number never appears in a URL (access logs, proxies, history)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    phone: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    reason: Annotated[str, StringConstraints(max_length=2000)] = ""


def add_hotline_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/operator/reports", post_call)
    app.router.add_post("/api/v1/operator/caller-lookups", post_caller_lookup)


def operator(request: web.Request) -> Identity:
    return require_staff(request, *HOTLINE_ROLES)


@handlers.guarded
async def post_call(request: web.Request) -> web.Response:
    """A caller's report as the operator enters it; `emergency: true` for a khẩn cấp call. No per-address or
    per-phone limits: every operator sits behind one address, and an emergency is never turned away."""
    caller = operator(request)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key) <= 200 and key.isprintable()):
        return json_error(400, "invalid_idempotency_key", "Idempotency-Key không hợp lệ (tối đa 200 ký tự).")
    raw = await handlers.json_object(request)
    problems = handlers.notification_errors(raw)
    try:
        checked = check_submission(raw, request.app[TENANT], utc_now(), model=OperatorReport)
    except InvalidRequest as exc:
        raise InvalidRequest(handlers.merged(problems, exc.errors)) from None
    if problems:
        raise InvalidRequest(problems)
    try:
        receipt, replayed = await hotline.submit_call(
            request.app[DB_POOL],
            request.app[VAULT],
            checked,
            caller,
            key,
            request[CORRELATION_ID],
            request.app[RECEPTION],
        )
    except IdempotencyKeyReused:
        return json_error(
            409, "idempotency_key_reused", "Idempotency-Key này đã được dùng cho một phản ánh khác.", "Idempotency-Key"
        )
    headers = {"Location": f"/api/v1/reports/{receipt.tracking_code}", **NO_STORE}  # the secret is in the body
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return web.json_response(receipt.model_dump(mode="json"), status=201, headers=headers)


@handlers.guarded
async def post_caller_lookup(request: web.Request) -> web.Response:
    """The caller's earlier reports by the phone they call from or give, with a stated reason (audited)."""
    caller = operator(request)
    lookup = handlers.parse(CallerLookup, await handlers.json_object(request))
    try:
        reason = staff.stated_reason(lookup.reason)
    except staff.InvalidReason:
        return _no_store(json_error(422, "reason_required", LOOKUP_REASON_MESSAGE, "reason"))
    try:
        history = await hotline.caller_history(request.app[DB_POOL], request.app[VAULT], caller, lookup.phone, reason)
    except hotline.InvalidPhone:
        return _no_store(json_error(422, "invalid_phone", "Số điện thoại không hợp lệ.", "phone"))
    except staff.AuditUnavailable:
        response = json_error(503, "audit_unavailable", AUDIT_UNAVAILABLE_MESSAGE)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return _no_store(response)
    return _no_store(web.json_response(history.model_dump(mode="json")))


def _no_store(response: web.Response) -> web.Response:
    response.headers.update(NO_STORE)
    return response
