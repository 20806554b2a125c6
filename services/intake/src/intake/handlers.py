"""HTTP handlers: parse and validate, call one use case, map the result or error to HTTP."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from intake import public, service, tracking
from intake.app_keys import CITIZEN_POLICY, RECEPTION, SETTINGS, SUBMISSION_LIMITER, TENANT, VAULT
from intake.limits import client_address
from intake.messages import FieldError
from intake.models import NotificationChoice, ProvideInformation, PublicFilters, RateAnswer, ReopenReport
from intake.validation import InvalidRequest, check_submission, pydantic_errors
from paht_shared import reference
from paht_shared.envelope import utc_now
from paht_shared.failures import is_dependency_failure
from paht_shared.runtime import DB_POOL
from paht_shared.text import fold
from paht_shared.web import CORRELATION_ID, Refused, json_error

TRACKING_SECRET_HEADER = "X-Tracking-Secret"  # noqa: S105 - a header name, not a secret
Model = TypeVar("Model", bound=BaseModel)


async def json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object, or Refused (415 for another content type, 400 for anything not JSON).

    The body is read first: one over the size limit is a 413 whatever it claims to be."""
    raw = await request.read()
    if request.content_type != "application/json":
        raise Refused(
            json_error(
                415, "unsupported_media_type", "Dữ liệu phải gửi dưới dạng JSON (Content-Type: application/json)."
            )
        )
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    # ValueError: also Python's 4,300-digit limit on integers; RecursionError: arrays nested thousands deep
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Refused(json_error(400, "invalid_json", "Dữ liệu gửi lên không đúng định dạng JSON.")) from None
    if not isinstance(body, dict):
        raise Refused(json_error(400, "invalid_json", "Dữ liệu gửi lên phải là một đối tượng JSON."))
    return body


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity: Python reads them, JSON has no such numbers


def errors_response(errors: list[dict[str, str]]) -> web.Response:
    return web.json_response({"errors": errors}, status=422)


def too_many(code: str, message: str, retry_after: int) -> web.Response:
    response = json_error(429, code, message)
    response.headers["Retry-After"] = str(retry_after)
    return response


def guarded(
    handler: Callable[[web.Request], Awaitable[web.Response]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Client mistakes raised anywhere in a handler become their 4xx answers."""

    async def wrapper(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except Refused as exc:
            return exc.response
        except InvalidRequest as exc:
            return errors_response(exc.errors)
        except tracking.ReportNotFound:
            return json_error(404, "report_not_found", "Không tìm thấy phản ánh với mã tra cứu và mã bí mật này.")
        except tracking.TrackingLocked as exc:
            return too_many(
                "tracking_locked", "Nhập sai mã bí mật quá nhiều lần. Vui lòng thử lại sau.", exc.retry_after
            )
        except tracking.ChannelWithoutAddress as exc:
            return errors_response([_channel_without_address(channel) for channel in exc.channels])
        except tracking.ActionNotAllowed as exc:
            return json_error(409, exc.code, _NOT_ALLOWED.get(exc.code, "Thao tác này hiện không thực hiện được."))

    wrapper.__name__ = handler.__name__
    return wrapper


_NOT_ALLOWED = {
    "no_information_request": "Phản ánh không có yêu cầu bổ sung thông tin nào đang chờ.",
    "already_rated": "Bạn đã đánh giá câu trả lời này.",
    "not_answered": "Phản ánh chưa có câu trả lời để đánh giá hoặc mở lại.",
    "window_passed": "Đã quá thời hạn đánh giá hoặc mở lại phản ánh.",
    "reopen_limit_reached": "Phản ánh đã được mở lại đủ số lần cho phép.",
}


# channel -> (the submission's field that holds its address, what to tell the citizen when it is missing)
_CHANNEL_ADDRESS = {
    "email": ("email", "Vui lòng nhập địa chỉ email để nhận thông báo qua email."),
    "sms": ("phone", "Vui lòng nhập số điện thoại để nhận thông báo qua tin nhắn."),
    "push": ("device_token", "Cần mã thiết bị của ứng dụng để nhận thông báo trên ứng dụng."),
}


def _channel_without_address(channel: str, prefix: str = "") -> FieldError:
    return {"field": prefix + channel, "code": "contact_required", "message": _CHANNEL_ADDRESS[channel][1]}


def notification_errors(raw: dict[str, Any]) -> list[FieldError]:
    """The submission's notification rules that span fields (the shapes are models.py's): a device token only
    from the app, and a channel turned on only with its address. Read from the raw body so that they are
    reported together with every other problem."""
    errors: list[FieldError] = []
    token = raw.get("device_token")
    if token is not None and raw.get("channel", "web") != "app":
        errors.append(
            {"field": "device_token", "code": "field_not_allowed", "message": "Mã thiết bị chỉ dùng cho ứng dụng."}
        )
        token = None
    reporter = raw.get("reporter")
    given = dict(reporter) if isinstance(reporter, dict) else {}
    given["device_token"] = token
    chosen = raw.get("notifications")
    if isinstance(chosen, dict):
        for channel, (field, _message) in _CHANNEL_ADDRESS.items():
            address = given.get(field)
            if chosen.get(channel) is True and (not isinstance(address, str) or not address.strip()):
                errors.append(_channel_without_address(channel, "notifications."))
    return errors


def merged(first: list[FieldError], then: list[FieldError]) -> list[FieldError]:
    """At most one error per field, the first one given."""
    seen = {e["field"] for e in first}
    return first + [e for e in then if e["field"] not in seen]


def parse(model: type[Model], body: dict[str, Any]) -> Model:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise InvalidRequest(pydantic_errors(exc)) from None


def tracking_secret(request: web.Request) -> str:
    secret = request.headers.get(TRACKING_SECRET_HEADER, "")
    if not secret:
        raise Refused(
            json_error(
                401,
                "tracking_secret_required",
                "Vui lòng nhập mã bí mật được cấp khi gửi phản ánh.",
                TRACKING_SECRET_HEADER,
            )
        )
    return secret


def tracking_code(request: web.Request) -> str:
    return request.match_info["tracking_code"].strip().upper()[:20]


async def list_categories(_request: web.Request) -> web.Response:
    return web.json_response(
        [
            {"code": c.code, "name": c.name, "field": c.field, "public_allowed": c.public_allowed}
            for c in reference.categories()
            if c.active
        ]
    )


async def list_wards(request: web.Request) -> web.Response:
    wards = reference.wards(request.app[SETTINGS].province_code)
    return web.json_response([{"code": code, "name": name} for code, name in wards.items()])


async def list_areas(_request: web.Request) -> web.Response:
    return web.json_response([{"code": a.code, "name": a.name} for a in reference.areas()])


@guarded
async def post_report(request: web.Request) -> web.Response:
    limiter = request.app[SUBMISSION_LIMITER]
    address = client_address(request, limiter.trusted_proxies)
    retry_after = limiter.allow(address)
    if retry_after is not None:
        return too_many("too_many_submissions", "Bạn gửi quá nhiều phản ánh. Vui lòng thử lại sau.", retry_after)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key) <= 200 and key.isprintable()):
        return json_error(400, "invalid_idempotency_key", "Idempotency-Key không hợp lệ (tối đa 200 ký tự).")
    raw = await json_object(request)
    notification_problems = notification_errors(raw)
    try:
        checked = check_submission(raw, request.app[TENANT], utc_now())
    except InvalidRequest as exc:
        raise InvalidRequest(merged(notification_problems, exc.errors)) from None
    if notification_problems:
        raise InvalidRequest(notification_problems)
    try:
        receipt, replayed = await service.submit_report(
            request.app[DB_POOL], request.app[VAULT], checked, key, request[CORRELATION_ID], request.app[RECEPTION]
        )
    except service.IdempotencyKeyReused:
        return json_error(
            409, "idempotency_key_reused", "Idempotency-Key này đã được dùng cho một phản ánh khác.", "Idempotency-Key"
        )
    except service.TooManySubmissions as exc:
        return too_many(
            "too_many_submissions",
            "Số điện thoại này đã gửi quá nhiều phản ánh. Vui lòng thử lại sau.",
            exc.retry_after,
        )
    except Exception as exc:
        if is_dependency_failure(exc):  # answered 503 (guarded): the retry must not count twice
            limiter.refund(address)
        raise
    headers = {"Location": f"/api/v1/reports/{receipt.tracking_code}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return web.json_response(receipt.model_dump(mode="json"), status=201, headers=headers)


@guarded
async def get_report(request: web.Request) -> web.Response:
    secret = tracking_secret(request)
    found = await tracking.track_report(
        request.app[DB_POOL], request.app[VAULT], tracking_code(request), secret, request.app[CITIZEN_POLICY]
    )
    return web.json_response(found.model_dump(mode="json"))


async def _citizen_action(
    request: web.Request, model: type[Model], action: Callable[..., Awaitable[None]]
) -> web.Response:
    secret = tracking_secret(request)
    cmd = parse(model, await json_object(request))
    pool, vault, policy, code = (
        request.app[DB_POOL],
        request.app[VAULT],
        request.app[CITIZEN_POLICY],
        tracking_code(request),
    )
    await action(pool, vault, code, secret, cmd, policy, request[CORRELATION_ID])
    found = await tracking.track_report(pool, vault, code, secret, policy)
    return web.json_response(found.model_dump(mode="json"))


@guarded
async def post_information(request: web.Request) -> web.Response:
    return await _citizen_action(request, ProvideInformation, tracking.provide_information)


@guarded
async def post_rating(request: web.Request) -> web.Response:
    return await _citizen_action(request, RateAnswer, tracking.rate_answer)


@guarded
async def post_reopen(request: web.Request) -> web.Response:
    return await _citizen_action(request, ReopenReport, tracking.reopen_report)


@guarded
async def post_notifications(request: web.Request) -> web.Response:
    return await _citizen_action(request, NotificationChoice, tracking.set_notifications)


def _query(request: web.Request, allowed: set[str]) -> dict[str, str]:
    unknown = set(request.query) - allowed
    if unknown:
        raise InvalidRequest(
            [
                {"field": f, "code": "unknown_field", "message": "Tham số này không được hỗ trợ."}
                for f in sorted(unknown)
            ]
        )
    return {k: v for k, v in request.query.items() if v != ""}


@guarded
async def list_public_reports(request: web.Request) -> web.Response:
    query = _query(request, {"category", "ward_code", "status", "since", "until", "q", "page", "per_page"})
    text = query.pop("q", None)
    if text is not None:
        query["words"] = fold(text)[:200]
    filters = parse(PublicFilters, query)
    page = await public.list_reports(request.app[DB_POOL], filters, request.app[SETTINGS].province_code)
    return web.json_response(page.model_dump(mode="json"))


@guarded
async def get_public_report(request: web.Request) -> web.Response:
    found = await public.show_report(request.app[DB_POOL], tracking_code(request), request.app[SETTINGS].province_code)
    if found is None:
        return json_error(404, "report_not_found", "Không tìm thấy phản ánh công khai với mã này.")
    return web.json_response(found.model_dump(mode="json"))


class _Period(BaseModel):
    since: datetime | None = None
    until: datetime | None = None


@guarded
async def get_public_stats(request: web.Request) -> web.Response:
    period = parse(_Period, _query(request, {"since", "until"}))
    found = await public.stats(request.app[DB_POOL], period.since, period.until, request.app[SETTINGS].province_code)
    return web.json_response(found.model_dump(mode="json"))
