"""HTTP handlers: parse and validate, call one use case, map the result or error to HTTP."""

from __future__ import annotations

import json

from aiohttp import web
from pydantic import ValidationError

from intake import service
from intake.app_keys import SETTINGS, VAULT
from intake.models import SubmitReport, validation_errors
from paht_shared import reference
from paht_shared.runtime import DB_POOL
from paht_shared.web import CORRELATION_ID, json_error

TRACKING_SECRET_HEADER = "X-Tracking-Secret"  # noqa: S105 - a header name, not a secret


async def list_categories(_request: web.Request) -> web.Response:
    return web.json_response([{"code": c.code, "name": c.name} for c in reference.categories()])


async def list_wards(request: web.Request) -> web.Response:
    wards = reference.wards(request.app[SETTINGS].province_code)
    return web.json_response([{"code": code, "name": name} for code, name in wards.items()])


async def post_report(request: web.Request) -> web.Response:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key) <= 200 and key.isprintable()):
        return json_error(400, "invalid_idempotency_key", "Idempotency-Key không hợp lệ (tối đa 200 ký tự).")
    try:
        body = await request.json(loads=json.loads)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return json_error(400, "invalid_json", "Dữ liệu gửi lên không đúng định dạng JSON.")
    if not isinstance(body, dict):
        return json_error(400, "invalid_json", "Dữ liệu gửi lên phải là một đối tượng JSON.")
    try:
        cmd = SubmitReport.model_validate(body)
    except ValidationError as exc:
        return web.json_response({"errors": validation_errors(exc)}, status=422)
    try:
        receipt, replayed = await service.submit_report(
            request.app[DB_POOL],
            request.app[VAULT],
            cmd,
            key,
            request[CORRELATION_ID],
            request.app[SETTINGS].province_code,
        )
    except service.InvalidReport as exc:
        return web.json_response({"errors": exc.errors}, status=422)
    except service.IdempotencyKeyReused:
        return json_error(
            409, "idempotency_key_reused", "Idempotency-Key này đã được dùng cho một phản ánh khác.", "Idempotency-Key"
        )
    headers = {"Location": f"/api/v1/reports/{receipt.tracking_code}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return web.json_response(receipt.model_dump(mode="json"), status=201, headers=headers)


async def get_report(request: web.Request) -> web.Response:
    secret = request.headers.get(TRACKING_SECRET_HEADER, "")
    if not secret:
        return json_error(
            401,
            "tracking_secret_required",
            "Vui lòng nhập mã bí mật được cấp khi gửi phản ánh.",
            TRACKING_SECRET_HEADER,
        )
    tracking_code = request.match_info["tracking_code"].upper()
    found = await service.track_report(request.app[DB_POOL], tracking_code, secret)
    if found is None:
        return json_error(404, "report_not_found", "Không tìm thấy phản ánh với mã tra cứu và mã bí mật này.")
    return web.json_response(found.model_dump(mode="json"))
