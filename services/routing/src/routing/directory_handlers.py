"""HTTP of the reference data: the admin API (agencies, rules, categories) and the public category tree.

Admin routes need an admin token. Bad input is a 422 `{"errors": [{field, code, message}]}` whose messages are
Vietnamese and never repeat what was sent (an unknown key is not even named).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from aiohttp import web
from aiokafka.errors import KafkaError
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, ValidationError

from paht_shared.auth import Role, require_staff
from paht_shared.calendar import TIMEZONE
from paht_shared.runtime import DB_POOL
from paht_shared.web import RETRY_AFTER_SECONDS, UNAVAILABLE_MESSAGE, Refused, json_error
from routing import directory
from routing.config import Settings
from routing.directory import AgencyEntry, AgencyKind, Conflict, InvalidChange, NotFound, Problem, RuleEntry

DIRECTORY_SETTINGS: web.AppKey[Settings] = web.AppKey("directory_settings", Settings)
Model = TypeVar("Model", bound=BaseModel)
_BODY = ConfigDict(extra="forbid", str_strip_whitespace=True)

AgencyCode = Annotated[str, StringConstraints(min_length=1, max_length=directory.MAX_AGENCY_CODE)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Email = Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
WardCode = Annotated[str, StringConstraints(pattern=r"^\d{5}$")]
AreaCode = Annotated[str, StringConstraints(pattern=r"^\d{3}$")]
CategoryCode = Annotated[str, StringConstraints(min_length=1, max_length=64)]
# A day (its start in the province) or an instant with its offset; parsed by _moment, not by pydantic, so that a
# naive time gets its own error code.
Moment = Annotated[str, StringConstraints(min_length=10, max_length=40)]


class NewAgency(BaseModel):
    model_config = _BODY
    code: AgencyCode
    name: Name
    kind: AgencyKind
    email: Email | None = None
    ward_code: WardCode | None = None
    valid_from: Moment | None = None
    valid_to: Moment | None = None
    replaced_by: AgencyCode | None = None


class AgencyPatch(BaseModel):
    model_config = _BODY
    name: Name = ""  # absent: unchanged (only what the client sent counts); null is refused
    email: Email | None = None
    valid_to: Moment | None = None
    replaced_by: AgencyCode | None = None


class NewRule(BaseModel):
    model_config = _BODY
    category: CategoryCode
    ward_code: WardCode | None = None
    area_code: AreaCode | None = None
    urgent: StrictBool = False
    agency: AgencyCode
    co_agencies: list[AgencyCode] = Field(default_factory=list, max_length=10)
    valid_from: Moment | None = None
    valid_to: Moment | None = None


class RulePatch(BaseModel):
    model_config = _BODY
    valid_to: Moment | None = None


class CategoryPatch(BaseModel):
    model_config = _BODY
    deadline_class: Annotated[str, StringConstraints(min_length=1, max_length=20)] = ""
    public_allowed: StrictBool = False
    active: StrictBool = True


_PYDANTIC_CODES = {
    "missing": "missing",
    "extra_forbidden": "unknown_field",
    "string_too_short": "too_short",
    "string_too_long": "too_long",
    "too_long": "too_many",
    "string_pattern_mismatch": "invalid_format",
    "enum": "invalid_choice",
    "string_type": "wrong_type",
    "bool_type": "wrong_type",
    "list_type": "wrong_type",
    "model_type": "wrong_type",
}

_MESSAGES = {
    "missing": "Thiếu thông tin bắt buộc.",
    "unknown_field": "Có trường không được hỗ trợ.",
    "too_short": "Không được để trống.",
    "too_long": "Giá trị quá dài.",
    "too_many": "Danh sách quá dài.",
    "invalid_format": "Giá trị không đúng định dạng.",
    "invalid_choice": "Giá trị không nằm trong danh sách cho phép.",
    "wrong_type": "Kiểu dữ liệu không đúng.",
    "invalid": "Giá trị không hợp lệ.",
    "blank": "Không được để trống.",
    "invalid_code": "Mã cơ quan chỉ gồm chữ cái in hoa không dấu, chữ số và dấu gạch ngang.",
    "invalid_datetime": "Thời điểm không hợp lệ: dùng dạng YYYY-MM-DD hoặc ISO 8601 có múi giờ.",
    "naive_datetime": "Thời điểm phải ghi rõ múi giờ.",
    "before_valid_from": "Thời điểm hết hiệu lực phải sau thời điểm bắt đầu hiệu lực.",
    "unknown_ward": "Phường, xã không thuộc địa bàn.",
    "unknown_area": "Khu vực không tồn tại.",
    "ward_and_area": "Quy tắc áp dụng cho một phường, xã hoặc một khu vực, không đồng thời cả hai.",
    "ward_committee_only": "Chỉ Ủy ban nhân dân phường, xã mới gắn với một phường, xã.",
    "unknown_agency": "Cơ quan không tồn tại.",
    "agency_closed": "Cơ quan đã ngừng hoạt động.",
    "repeated_agency": "Cơ quan phối hợp bị trùng lặp hoặc trùng với cơ quan chủ trì.",
    "replacement_cycle": "Cơ quan thay thế không được dẫn ngược về chính cơ quan này.",
    "unknown_category": "Chuyên mục không tồn tại.",
    "unknown_deadline_class": "Loại thời hạn không hợp lệ.",
}

_CONFLICTS = {
    "agency_exists": "Mã cơ quan đã tồn tại.",
    "rule_exists": "Đã có quy tắc cùng chuyên mục, địa bàn, mức độ khẩn và thời điểm hiệu lực.",
    "coordinator_required": (
        "Không thể cho đơn vị điều phối ngừng hoạt động: phản ánh chưa phân loại sẽ không có nơi nhận."
    ),
}


def add_directory_routes(app: web.Application, settings: Settings) -> None:
    """The admin API of the reference data and the public category tree. `settings` give the broker on which a
    new agency's queue topic is created."""
    app[DIRECTORY_SETTINGS] = settings
    app.router.add_get("/api/v1/categories", category_tree)
    app.router.add_get("/api/v1/admin/agencies", list_agencies)
    app.router.add_post("/api/v1/admin/agencies", create_agency)
    app.router.add_patch("/api/v1/admin/agencies/{code}", update_agency)
    app.router.add_get("/api/v1/admin/rules", list_rules)
    app.router.add_post("/api/v1/admin/rules", create_rule)
    app.router.add_patch("/api/v1/admin/rules/{rule_id}", update_rule)
    app.router.add_get("/api/v1/admin/categories", list_categories)
    app.router.add_patch("/api/v1/admin/categories/{code}", update_category)


Handler = Callable[[web.Request], Awaitable[web.Response]]


def _guarded(not_found: tuple[str, str]) -> Callable[[Handler], Handler]:
    """Maps the directory's refusals to HTTP; `not_found` is the 404's code and message."""

    def decorate(handler: Handler) -> Handler:
        async def wrapper(request: web.Request) -> web.Response:
            try:
                return await handler(request)
            except InvalidChange as exc:
                return _unprocessable(exc.problems)
            except NotFound:
                return json_error(404, *not_found)
            except Conflict as exc:
                return json_error(409, exc.code, _CONFLICTS[exc.code])
            except Refused as exc:
                return exc.response

        wrapper.__name__ = handler.__name__
        wrapper.__doc__ = handler.__doc__
        return wrapper

    return decorate


_AGENCY_404 = ("agency_not_found", "Không tìm thấy cơ quan.")
_RULE_404 = ("rule_not_found", "Không tìm thấy quy tắc phân công.")
_CATEGORY_404 = ("category_not_found", "Không tìm thấy chuyên mục.")


def _admin(request: web.Request) -> str:
    """The admin's subject, for the change log (401/403/503 for anyone else)."""
    return require_staff(request, Role.ADMIN).subject


# --- public ----------------------------------------------------------------------------------------------------


async def category_tree(request: web.Request) -> web.Response:
    """Fields with their active categories, as routing holds them (no login)."""
    async with request.app[DB_POOL].acquire() as conn:
        return web.json_response(await directory.category_tree(conn))


# --- agencies --------------------------------------------------------------------------------------------------


@_guarded(_AGENCY_404)
async def list_agencies(request: web.Request) -> web.Response:
    """Every agency, closed ones too; `?kind=` narrows to one kind."""
    _admin(request)
    kind: AgencyKind | None = None
    if "kind" in request.query:
        try:
            kind = AgencyKind(request.query["kind"])
        except ValueError:
            raise InvalidChange([Problem("kind", "invalid_choice")]) from None
    async with request.app[DB_POOL].acquire() as conn:
        found = await directory.list_agencies(conn, kind)
    return web.json_response([directory.as_json(a) for a in found])


@_guarded(_AGENCY_404)
async def create_agency(request: web.Request) -> web.Response:
    """A new agency (and its queue topic): 201, 409 when the code is taken."""
    actor = _admin(request)
    body = await _body(request, NewAgency)
    valid_from, valid_to = _moments(body.valid_from, body.valid_to)
    new = AgencyEntry(
        code=body.code.upper(),
        name=body.name,
        kind=body.kind,
        email=body.email,
        ward_code=body.ward_code,
        valid_from=valid_from,
        valid_to=valid_to,
        replaced_by=None if body.replaced_by is None else body.replaced_by.upper(),
    )
    settings = request.app[DIRECTORY_SETTINGS]

    async def create_queue(code: str) -> None:
        await directory.ensure_agency_queues(settings, [code])

    try:
        async with request.app[DB_POOL].acquire() as conn:
            created = await directory.create_agency(conn, new, actor, create_queue)
    except KafkaError:
        # The broker is unreachable: nothing was written; the client may send the same request again.
        response = json_error(503, "service_unavailable", UNAVAILABLE_MESSAGE)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    response = web.json_response(directory.as_json(created), status=201)
    response.headers["Location"] = f"/api/v1/admin/agencies/{created.code}"
    return response


@_guarded(_AGENCY_404)
async def update_agency(request: web.Request) -> web.Response:
    """Rename, readdress, close (valid_to) or reopen (valid_to null) an agency, or name its successor."""
    actor = _admin(request)
    body = await _body(request, AgencyPatch)
    changes: dict[str, Any] = {k: getattr(body, k) for k in body.model_fields_set}
    if "valid_to" in changes:
        changes["valid_to"] = _moment("valid_to", body.valid_to)
    if changes.get("replaced_by") is not None:
        changes["replaced_by"] = changes["replaced_by"].upper()
    coordinator = request.app[DIRECTORY_SETTINGS].coordinator_agency
    async with request.app[DB_POOL].acquire() as conn:
        updated = await directory.update_agency(conn, request.match_info["code"].upper(), changes, actor, coordinator)
    return web.json_response(directory.as_json(updated))


# --- rules -----------------------------------------------------------------------------------------------------


@_guarded(_RULE_404)
async def list_rules(request: web.Request) -> web.Response:
    """Rules; `?category=`, `?agency=` (leading or co-processing) and `?at=` (valid then) narrow the list."""
    _admin(request)
    at = _moment("at", request.query.get("at"))
    agency = request.query.get("agency")
    async with request.app[DB_POOL].acquire() as conn:
        found = await directory.list_rules(conn, request.query.get("category"), agency and agency.upper(), at)
    return web.json_response([directory.as_json(r) for r in found])


@_guarded(_RULE_404)
async def create_rule(request: web.Request) -> web.Response:
    """A new rule (valid from now unless valid_from says otherwise): 201, 409 for the same match and start."""
    actor = _admin(request)
    body = await _body(request, NewRule)
    valid_from, valid_to = _moments(body.valid_from, body.valid_to)
    new = RuleEntry(
        category=body.category,
        agency=body.agency.upper(),
        ward_code=body.ward_code,
        area_code=body.area_code,
        urgent=body.urgent,
        co_agencies=tuple(c.upper() for c in body.co_agencies),
        valid_from=valid_from,
        valid_to=valid_to,
    )
    async with request.app[DB_POOL].acquire() as conn:
        created = await directory.create_rule(conn, new, actor)
    response = web.json_response(directory.as_json(created), status=201)
    response.headers["Location"] = f"/api/v1/admin/rules/{created.id}"
    return response


@_guarded(_RULE_404)
async def update_rule(request: web.Request) -> web.Response:
    """Retire a rule (valid_to) or reopen it (valid_to null)."""
    actor = _admin(request)
    body = await _body(request, RulePatch)
    try:
        rule_id = int(request.match_info["rule_id"])
    except ValueError:
        raise NotFound from None
    if not 0 < rule_id < 2**63:
        raise NotFound
    changes = {"valid_to": _moment("valid_to", body.valid_to)} if "valid_to" in body.model_fields_set else {}
    async with request.app[DB_POOL].acquire() as conn:
        updated = await directory.update_rule(conn, rule_id, changes, actor)
    return web.json_response(directory.as_json(updated))


# --- categories ------------------------------------------------------------------------------------------------


@_guarded(_CATEGORY_404)
async def list_categories(request: web.Request) -> web.Response:
    """Every category, inactive ones too, with its field, deadline class and publication policy."""
    _admin(request)
    async with request.app[DB_POOL].acquire() as conn:
        found = await directory.list_categories(conn)
    return web.json_response([directory.as_json(c) for c in found])


@_guarded(_CATEGORY_404)
async def update_category(request: web.Request) -> web.Response:
    """Change a category's deadline class, whether its reports may be public, and whether it takes new ones."""
    actor = _admin(request)
    body = await _body(request, CategoryPatch)
    changes = {k: getattr(body, k) for k in body.model_fields_set}
    async with request.app[DB_POOL].acquire() as conn:
        updated = await directory.update_category(conn, request.match_info["code"], changes, actor)
    return web.json_response(directory.as_json(updated))


# --- parsing ---------------------------------------------------------------------------------------------------


async def _body(request: web.Request, model: type[Model]) -> Model:
    if request.content_type != "application/json":
        raise Refused(json_error(415, "unsupported_media_type", "Dữ liệu phải gửi dưới dạng JSON."))
    try:
        raw = json.loads(await request.text())
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Refused(json_error(400, "invalid_json", "Dữ liệu gửi lên không đúng định dạng JSON.")) from None
    if not isinstance(raw, dict):
        raise Refused(json_error(400, "invalid_json", "Dữ liệu gửi lên phải là một đối tượng JSON."))
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False, include_context=False):
            code = _PYDANTIC_CODES.get(error["type"], "invalid")
            # An unknown key is the client's own text: it is not named back.
            name = None if code == "unknown_field" or not error["loc"] else str(error["loc"][0])
            problems.append(Problem(name, code))
        raise InvalidChange(list(dict.fromkeys(problems))) from None


def _moment(name: str, value: str | None) -> datetime | None:
    """A day (its first instant in the province) or an ISO 8601 instant with an offset."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            return directory.province_day(date.fromisoformat(value))
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidChange([Problem(name, "invalid_datetime")]) from None
    if moment.tzinfo is None:
        raise InvalidChange([Problem(name, "naive_datetime")])
    return moment.astimezone(TIMEZONE)


def _moments(valid_from: str | None, valid_to: str | None) -> tuple[datetime | None, datetime | None]:
    problems: list[Problem] = []
    moments: list[datetime | None] = []
    for name, value in (("valid_from", valid_from), ("valid_to", valid_to)):
        try:
            moments.append(_moment(name, value))
        except InvalidChange as exc:
            problems += exc.problems
            moments.append(None)
    if problems:
        raise InvalidChange(problems)
    return moments[0], moments[1]


def _unprocessable(problems: tuple[Problem, ...]) -> web.Response:
    errors = [
        {"field": p.field, "code": p.code, "message": _MESSAGES.get(p.code, _MESSAGES["invalid"])} for p in problems
    ]
    return web.json_response({"errors": errors}, status=422)
