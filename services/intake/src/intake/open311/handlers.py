"""Open311 GeoReport v2 routes at /open311/v2/, and the admin's api key endpoints.

A POST becomes the same checked submission as the web form's (validation.check_submission with the Open311
channel) and goes through the same use case (service.submit_report): one report record, one report.submitted
event with channel `open311`. GET shows public reports only, with their masked texts."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import structlog
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage
from multidict import MultiMapping
from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints

from intake import service
from intake.app_keys import RECEPTION, SETTINGS, TENANT, VAULT
from intake.handlers import guarded, json_object, parse
from intake.models import ChannelReport, ReportReceipt
from intake.open311 import formats, keys, mapping, queries
from intake.open311.mapping import Open311Error
from intake.validation import InvalidRequest, check_submission
from paht_shared.auth import Role, require_staff
from paht_shared.envelope import utc_now
from paht_shared.runtime import DB_POOL
from paht_shared.text import normalize_text
from paht_shared.web import CORRELATION_ID, json_error

log = structlog.get_logger("intake.open311")

BASE = "/open311/v2"
KEYS = "/api/v1/admin/open311-keys"
NO_STORE = {"Cache-Control": "no-store"}  # a new key must not stay in any cache
CHANGESET = "2026-11-29T00:00:00+07:00"  # when this API last changed (the discovery document's changeset)

API_KEY_REFUSED = "api_key không hợp lệ hoặc đã bị thu hồi. Liên hệ quản trị viên hệ thống để được cấp khóa."
Handler = Callable[[web.Request], Awaitable[web.Response]]


def add_open311_routes(app: web.Application) -> None:
    app.router.add_get(BASE + "/discovery.{fmt}", get_discovery)
    app.router.add_get(BASE + "/services.{fmt}", get_services)
    app.router.add_get(BASE + "/services/{service_code}.{fmt}", get_service_definition)
    app.router.add_post(BASE + "/requests.{fmt}", post_request)
    app.router.add_get(BASE + "/requests.{fmt}", get_requests)
    app.router.add_get(BASE + "/requests/{service_request_id}.{fmt}", get_request)
    app.router.add_get(BASE + "/tokens/{token}.{fmt}", get_token)
    app.router.add_post(KEYS, post_key)
    app.router.add_get(KEYS, get_keys)
    app.router.add_delete(KEYS + "/{key_id}", delete_key)


def answer_format(request: web.Request) -> str:
    """The format the path asks for; an unknown one is a 404 (its error list in JSON)."""
    fmt = request.match_info["fmt"]
    if fmt not in formats.FORMATS:
        raise Open311Error(404, ["Định dạng không được hỗ trợ: dùng .json hoặc .xml."])
    return fmt


def open311_guarded(handler: Handler) -> Handler:
    """Refusals raised anywhere in an Open311 handler become the spec's error list, in the format asked for."""

    async def wrapper(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except Open311Error as exc:
            return formats.errors(exc.status, exc.descriptions, request.match_info.get("fmt", "json"))

    wrapper.__name__ = handler.__name__
    return wrapper


def _joined(query: MultiMapping[str]) -> dict[str, str]:
    """Query parameters; one given several times counts as its values comma-separated (the spec allows both)."""
    return {name: ",".join(query.getall(name)) for name in query}


@open311_guarded
async def get_discovery(request: web.Request) -> web.Response:
    fmt = answer_format(request)
    endpoint = str(request.url.with_path(BASE).with_query(None))
    document = {
        "changeset": CHANGESET,
        "contact": "Cổng Phản ánh hiện trường (PAHT), " + endpoint,
        "key_service": "Khóa api_key do quản trị viên hệ thống cấp cho từng đơn vị tích hợp.",
        "endpoints": [
            {
                "specification": mapping.SPECIFICATION,
                "url": endpoint,
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["application/json", "text/xml"],
            }
        ],
    }
    return formats.answer(document, "discovery", fmt)


@open311_guarded
async def get_services(request: web.Request) -> web.Response:
    fmt = answer_format(request)
    return formats.answer([s.model_dump() for s in mapping.services()], "services", fmt)


@open311_guarded
async def get_service_definition(request: web.Request) -> web.Response:
    """Our services have no attributes (metadata false); a client that asks anyway gets an empty list rather
    than an error, and an unknown or retired service a 404."""
    fmt = answer_format(request)
    code = request.match_info["service_code"]
    if code not in {s.service_code for s in mapping.services()}:
        raise Open311Error(404, ["Không có dịch vụ (service_code) này."])
    definition = mapping.ServiceDefinition(service_code=code, attributes=[])
    return formats.answer(definition.model_dump(), "service_definition", fmt)


async def _form(request: web.Request) -> dict[str, str]:
    """The form of a POST: urlencoded or multipart, text fields only, each at most once."""
    if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise Open311Error(400, ["Dữ liệu phải gửi dạng form (application/x-www-form-urlencoded)."])
    try:
        form = await request.post()
    # BadHttpMessage: a part's headers are malformed (a control character in a field's name)
    except (ValueError, UnicodeDecodeError, BadHttpMessage):
        raise Open311Error(400, ["Dữ liệu form không đọc được (cần mã hóa UTF-8)."]) from None
    fields: dict[str, str] = {}
    for name in form:
        values = form.getall(name)
        if len(values) > 1:
            raise Open311Error(400, [f"{mapping.printable_name(name)}: chỉ được gửi một lần."])
        if not isinstance(values[0], str):
            raise Open311Error(400, ["Không nhận tệp đính kèm; ảnh gửi qua ứng dụng hoặc cổng thông tin."])
        fields[name] = values[0]
    return fields


def _idempotency_key(request: web.Request, key_id: uuid.UUID) -> str | None:
    """An integrator's Idempotency-Key, scoped to its api key: two integrators' keys never collide."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not (0 < len(key) <= 200 and key.isprintable()):
        raise Open311Error(400, ["Idempotency-Key không hợp lệ (tối đa 200 ký tự)."])
    return f"open311:{key_id}:{key}"


def _notice(receipt: ReportReceipt, public: bool, media_url_given: bool) -> str:
    received = mapping.timestamp(receipt.received_at)
    notice = f"Đã nhận phản ánh {receipt.tracking_code}; thời điểm tiếp nhận chính thức {received}."
    if not public:
        notice += " Phản ánh không công khai nên không hiển thị khi tra cứu qua Open311."
    if media_url_given:
        notice += " Tệp tại media_url không được tải về (hệ thống không tải tệp từ địa chỉ bên ngoài)."
    return notice


@open311_guarded
async def post_request(request: web.Request) -> web.Response:
    fmt = answer_format(request)
    form = await _form(request)
    pool = request.app[DB_POOL]
    key_id = await keys.active_key(pool, form.get("api_key", ""))
    if key_id is None:
        log.info("open311_key_refused", given=bool(form.get("api_key")))
        raise Open311Error(403, [API_KEY_REFUSED])
    raw = mapping.submission(form)
    try:
        checked = check_submission(raw, request.app[TENANT], utc_now(), model=ChannelReport)
    except InvalidRequest as exc:
        raise Open311Error(400, mapping.descriptions(exc.errors)) from None
    idempotency_key = _idempotency_key(request, key_id)
    try:
        receipt, replayed = await service.submit_report(
            pool,
            request.app[VAULT],
            checked,
            idempotency_key,
            request[CORRELATION_ID],
            request.app[RECEPTION],
            also=lambda conn, report_id: keys.record_submission(conn, report_id, key_id),
        )
    except service.IdempotencyKeyReused:
        raise Open311Error(409, ["Idempotency-Key này đã được dùng cho một phản ánh khác."]) from None
    except service.TooManySubmissions as exc:
        response = formats.errors(429, ["Số điện thoại này đã gửi quá nhiều phản ánh. Vui lòng thử lại sau."], fmt)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    log.info("open311_request_submitted", report_id=str(receipt.id), key_id=str(key_id), replayed=replayed)
    created = mapping.CreatedRequest(
        service_request_id=receipt.tracking_code,
        token=str(receipt.id),
        service_notice=_notice(receipt, checked.cmd.public, bool(form.get("media_url", "").strip())),
        account_id=None,
    )
    return formats.answer([created.model_dump()], "service_requests", fmt, status=201)


@open311_guarded
async def get_requests(request: web.Request) -> web.Response:
    fmt = answer_format(request)
    query = mapping.request_query(_joined(request.query), utc_now())
    async with request.app[DB_POOL].acquire() as conn:
        rows = await queries.public_requests(conn, query)
    province = request.app[SETTINGS].province_code
    return formats.answer([mapping.service_request(r, province).model_dump() for r in rows], "service_requests", fmt)


@open311_guarded
async def get_request(request: web.Request) -> web.Response:
    fmt = answer_format(request)
    code = request.match_info["service_request_id"].strip().upper()[:20]
    async with request.app[DB_POOL].acquire() as conn:
        row = await queries.public_request(conn, code)
    if row is None:
        raise Open311Error(404, ["Không tìm thấy phản ánh công khai với mã này."])
    found = mapping.service_request(row, request.app[SETTINGS].province_code)
    return formats.answer([found.model_dump()], "service_requests", fmt)


@open311_guarded
async def get_token(request: web.Request) -> web.Response:
    fmt = answer_format(request)
    token = request.match_info["token"]
    try:
        report_id = uuid.UUID(token)
    except ValueError:
        raise Open311Error(404, ["Không tìm thấy token này."]) from None
    async with request.app[DB_POOL].acquire() as conn:
        code = await queries.request_id_of_token(conn, report_id)
    if code is None:
        raise Open311Error(404, ["Không tìm thấy token này."])
    found = mapping.TokenAnswer(service_request_id=code, token=str(report_id))
    return formats.answer([found.model_dump()], "service_requests", fmt)


# --- the admin's keys ------------------------------------------------------------------------------------


def _client_name(value: Any) -> Any:
    return normalize_text(value) if isinstance(value, str) else value


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    client: Annotated[str, StringConstraints(min_length=2, max_length=100), BeforeValidator(_client_name)]


def _no_store(response: web.Response) -> web.Response:
    response.headers.update(NO_STORE)
    return response


@guarded
async def post_key(request: web.Request) -> web.Response:
    """A new key for an integrator; the answer is the only time the key is shown."""
    admin = require_staff(request, Role.ADMIN)
    cmd = parse(NewKey, await json_object(request))
    issued = await keys.issue_key(request.app[DB_POOL], cmd.client, admin.subject)
    return _no_store(web.json_response(issued.model_dump(mode="json"), status=201))


async def get_keys(request: web.Request) -> web.Response:
    require_staff(request, Role.ADMIN)
    listed = await keys.list_keys(request.app[DB_POOL])
    return _no_store(web.json_response([k.model_dump(mode="json") for k in listed]))


async def delete_key(request: web.Request) -> web.Response:
    admin = require_staff(request, Role.ADMIN)
    try:
        key_id = uuid.UUID(request.match_info["key_id"])
    except ValueError:
        return _no_store(json_error(404, "key_not_found", "Không tìm thấy khóa này."))
    revoked = await keys.revoke_key(request.app[DB_POOL], key_id, admin.subject)
    if revoked is None:
        return _no_store(json_error(404, "key_not_found", "Không tìm thấy khóa này."))
    return _no_store(web.json_response(revoked.model_dump(mode="json")))
