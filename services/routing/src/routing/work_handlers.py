"""HTTP of the agencies' work and the coordinator: parse, check the caller, call one use case, map errors.

Every route needs a staff token. An officer sees and acts on the reports their agency leads (or helps
with); anything else is answered 404, exactly like a report that does not exist.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from paht_shared.auth import Identity, Role, require_staff
from paht_shared.contracts import MediaRef, ReportStatus
from paht_shared.runtime import DB_POOL
from paht_shared.web import CORRELATION_ID, Refused, json_error
from routing import repository
from routing.domain import Actor, Assignment, IllegalTransition
from routing.work import Cause, InvalidChange, NotLeadAgency, ReportNotFound, Workflow, may_see

WORKFLOW: web.AppKey[Workflow] = web.AppKey("workflow", Workflow)
Model = TypeVar("Model", bound=BaseModel)
_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)

Text = Annotated[str, StringConstraints(min_length=5, max_length=5000)]


class ReturnBody(BaseModel):
    model_config = _STRICT
    reason: Annotated[str, StringConstraints(min_length=10, max_length=1000)]


class QuestionBody(BaseModel):
    model_config = _STRICT
    question: Annotated[str, StringConstraints(min_length=10, max_length=2000)]


class ExtensionBody(BaseModel):
    model_config = _STRICT
    days: int = Field(ge=1, le=60)
    reason: Annotated[str, StringConstraints(min_length=10, max_length=1000)]


class TextBody(BaseModel):
    model_config = _STRICT
    text: Text


class Upload(BaseModel):
    """A file the officer uploaded to media, with the upload token media gave them (the proof of upload)."""

    model_config = _STRICT
    id: uuid.UUID
    upload_token: Annotated[str, StringConstraints(min_length=16, max_length=200)]


class AnswerBody(BaseModel):
    model_config = _STRICT
    text: Annotated[str, StringConstraints(min_length=20, max_length=10000)]
    # Attachments with their upload tokens: media keeps them for the report. `media_ids` (ids alone) are
    # listed with the answer but never claimed, so media's retention deletes them.
    media: list[Upload] = Field(default_factory=list, max_length=10)
    media_ids: list[uuid.UUID] = Field(default_factory=list, max_length=10)


class RejectBody(BaseModel):
    model_config = _STRICT
    reason_code: str = Field(max_length=40)
    note: Annotated[str, StringConstraints(max_length=1000)] | None = None


class ReassignBody(BaseModel):
    model_config = _STRICT
    agency_code: str = Field(min_length=1, max_length=40)
    co_agencies: list[Annotated[str, StringConstraints(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=5
    )
    reason: Annotated[str, StringConstraints(min_length=10, max_length=1000)]


class MergeBody(BaseModel):
    model_config = _STRICT
    into: uuid.UUID


class DecisionBody(BaseModel):
    model_config = _STRICT
    approve: bool


class QueueQuery(BaseModel):
    model_config = _STRICT
    agency: str | None = Field(default=None, max_length=40)
    status: ReportStatus | None = None
    overdue: bool | None = None
    category: str | None = Field(default=None, max_length=64)
    ward_code: str | None = Field(default=None, max_length=10)
    page: int = Field(default=1, ge=1, le=10_000)
    per_page: int = Field(default=50, ge=1, le=200)


_MESSAGES = {
    "already_accepted": "Phản ánh đã được tiếp nhận xử lý.",
    "not_accepted": "Cần tiếp nhận xử lý phản ánh trước khi trả lời.",
    "report_closed": "Phản ánh đã kết thúc xử lý.",
    "illegal_transition": "Thao tác này không áp dụng cho trạng thái hiện tại của phản ánh.",
    "extension_pending": "Đã có một đề nghị gia hạn đang chờ duyệt.",
    "no_extension_requested": "Không có đề nghị gia hạn nào đang chờ duyệt.",
    "unknown_agency": "Cơ quan không tồn tại hoặc không còn hoạt động.",
    "unknown_reason": "Lý do từ chối không hợp lệ (out_of_scope, duplicate, offensive, other_channel).",
    "same_report": "Không thể gộp một phản ánh với chính nó.",
    "cannot_merge_into": "Phản ánh đích đã kết thúc hoặc đã được gộp vào phản ánh khác.",
    "out_of_range": "Giá trị nằm ngoài phạm vi cho phép.",
}


def actor_of(identity: Identity) -> Actor:
    return Actor(identity.subject, identity.role.value, identity.agency)


def guarded(
    handler: Callable[[web.Request], Awaitable[web.Response]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def wrapper(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except ReportNotFound:
            return json_error(404, "report_not_found", "Không tìm thấy phản ánh.")
        except NotLeadAgency:
            return json_error(
                403, "not_lead_agency", "Chỉ cơ quan chủ trì xử lý phản ánh mới thực hiện được thao tác này."
            )
        except IllegalTransition as exc:
            return json_error(409, exc.code, _MESSAGES.get(exc.code, _MESSAGES["illegal_transition"]))
        except InvalidChange as exc:
            message = _MESSAGES.get(exc.code, "Giá trị không hợp lệ.")
            return web.json_response(
                {"errors": [{"field": exc.field, "code": exc.code, "message": message}]}, status=422
            )
        except Refused as exc:
            return exc.response

    wrapper.__name__ = handler.__name__
    return wrapper


async def _body(request: web.Request, model: type[Model]) -> Model:
    if request.content_type != "application/json":
        raise Refused(json_error(415, "unsupported_media_type", "Dữ liệu phải gửi dưới dạng JSON."))
    try:
        raw = json.loads(await request.text())
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Refused(json_error(400, "invalid_json", "Dữ liệu gửi lên không đúng định dạng JSON.")) from None
    return _validate(model, raw if raw is not None else {})


def _validate(model: type[Model], raw: Any) -> Model:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        errors = [
            {
                "field": ".".join(str(p) for p in e["loc"]) or None,
                "code": "unknown_field" if e["type"] == "extra_forbidden" else "invalid",
                "message": "Trường này không được hỗ trợ."
                if e["type"] == "extra_forbidden"
                else "Giá trị không hợp lệ.",
            }
            for e in exc.errors(include_input=False, include_url=False, include_context=False)
        ]
        raise Refused(web.json_response({"errors": errors}, status=422)) from None


def _report_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["report_id"])
    except ValueError:
        raise ReportNotFound from None


def _cause(request: web.Request) -> Cause:
    return Cause(request[CORRELATION_ID])


def _staff(request: web.Request) -> Actor:
    return actor_of(require_staff(request, Role.OFFICER, Role.COORDINATOR, Role.ADMIN))


async def _staff_on_report(request: web.Request) -> Actor:
    """The caller, once we know they may see the report: an officer of another agency gets the 404 before
    anything about their request body is said."""
    actor = _staff(request)
    async with request.app[DB_POOL].acquire() as conn:
        a = await repository.get_assignment(conn, _report_id(request))
    if a is None or not may_see(a, actor):
        raise ReportNotFound
    return actor


async def _coordinator_on_report(request: web.Request) -> Actor:
    actor = _coordinator(request)
    async with request.app[DB_POOL].acquire() as conn:
        if await repository.get_assignment(conn, _report_id(request)) is None:
            raise ReportNotFound
    return actor


def _coordinator(request: web.Request) -> Actor:
    return actor_of(require_staff(request, Role.COORDINATOR, Role.ADMIN))


def view(a: Assignment) -> dict[str, Any]:
    """The agency's view: the masked texts intake published, never the reporter's identity (that is shown,
    audited, by intake's staff endpoint, and only when the reporter consented and did not hide it)."""
    data = a.model_dump(mode="json")
    data["overdue"] = a.overdue
    data["identity"] = {
        "shared": a.identity_shared and not a.anonymous,
        "where": f"/api/v1/staff/reports/{a.report_id}/reporter" if a.identity_shared and not a.anonymous else None,
    }
    return data


# --- agency -------------------------------------------------------------------------------------------


@guarded
async def list_queue(request: web.Request) -> web.Response:
    actor = _staff(request)
    query = _validate(QueueQuery, dict(request.query))
    agency = actor.agency if actor.role == Role.OFFICER else query.agency
    async with request.app[DB_POOL].acquire() as conn:
        items, total = await repository.work_queue(
            conn, agency, [query.status.value] if query.status else None, query.overdue, query.category,
            query.ward_code, None, query.per_page, (query.page - 1) * query.per_page,
        )  # fmt: skip
    return web.json_response(
        {"items": [view(a) for a in items], "page": query.page, "per_page": query.per_page, "total": total}
    )


@guarded
async def show_report(request: web.Request) -> web.Response:
    actor = _staff(request)
    async with request.app[DB_POOL].acquire() as conn:
        a = await repository.get_assignment(conn, _report_id(request))
        if a is None or not may_see(a, actor):
            raise ReportNotFound
        history = await repository.history(conn, a.report_id)
        parts = await repository.contributions(conn, a.report_id)
    data = view(a)
    data["history"] = [dict(h) | {"at": h["at"].isoformat()} for h in history]
    data["contributions"] = [dict(c) | {"at": c["at"].isoformat()} for c in parts]
    return web.json_response(json.loads(json.dumps(data, default=str)))


async def _act(request: web.Request, action: Callable[..., Awaitable[Assignment]], *args: Any) -> web.Response:
    updated = await action(request.app[DB_POOL], _report_id(request), *args)
    return web.json_response(view(updated))


@guarded
async def accept(request: web.Request) -> web.Response:
    return await _act(request, request.app[WORKFLOW].accept, await _staff_on_report(request), _cause(request))


@guarded
async def return_report(request: web.Request) -> web.Response:
    actor = await _staff_on_report(request)
    body = await _body(request, ReturnBody)
    return await _act(request, request.app[WORKFLOW].return_report, actor, body.reason, _cause(request))


@guarded
async def request_information(request: web.Request) -> web.Response:
    actor = await _staff_on_report(request)
    body = await _body(request, QuestionBody)
    return await _act(request, request.app[WORKFLOW].request_information, actor, body.question, _cause(request))


@guarded
async def request_extension(request: web.Request) -> web.Response:
    actor = await _staff_on_report(request)
    body = await _body(request, ExtensionBody)
    workflow = request.app[WORKFLOW]
    return await _act(request, workflow.request_extension, actor, body.days, body.reason, _cause(request))


@guarded
async def post_update(request: web.Request) -> web.Response:
    actor = await _staff_on_report(request)
    body = await _body(request, TextBody)
    return await _act(request, request.app[WORKFLOW].post_update, actor, body.text, _cause(request))


@guarded
async def contribute(request: web.Request) -> web.Response:
    actor = await _staff_on_report(request)
    body = await _body(request, TextBody)
    return await _act(request, request.app[WORKFLOW].contribute, actor, body.text)


@guarded
async def answer(request: web.Request) -> web.Response:
    actor = await _staff_on_report(request)
    body = await _body(request, AnswerBody)
    proofs = [MediaRef.proof(u.id, u.upload_token) for u in body.media]
    media_ids = list(dict.fromkeys([*body.media_ids, *(u.id for u in body.media)]))
    return await _act(request, request.app[WORKFLOW].answer, actor, body.text, media_ids, _cause(request), proofs)


@guarded
async def reject(request: web.Request) -> web.Response:
    actor = await _staff_on_report(request)
    body = await _body(request, RejectBody)
    return await _act(request, request.app[WORKFLOW].reject, actor, body.reason_code, body.note, _cause(request))


# --- coordinator --------------------------------------------------------------------------------------


async def _queue_of(request: web.Request, overdue: bool | None, triage: bool | None) -> web.Response:
    _coordinator(request)
    query = _validate(QueueQuery, dict(request.query))
    async with request.app[DB_POOL].acquire() as conn:
        items, total = await repository.work_queue(
            conn, query.agency, None, overdue, query.category, query.ward_code, triage,
            query.per_page, (query.page - 1) * query.per_page,
        )  # fmt: skip
    open_items = [a for a in items if a.status in (ReportStatus.ASSIGNED, ReportStatus.IN_PROGRESS,
                                                    ReportStatus.NEEDS_INFO, ReportStatus.REOPENED)]  # fmt: skip
    return web.json_response(
        {"items": [view(a) for a in open_items], "page": query.page, "per_page": query.per_page, "total": total}
    )


@guarded
async def triage_queue(request: web.Request) -> web.Response:
    return await _queue_of(request, None, True)


@guarded
async def overdue_list(request: web.Request) -> web.Response:
    return await _queue_of(request, True, None)


@guarded
async def load(request: web.Request) -> web.Response:
    _coordinator(request)
    async with request.app[DB_POOL].acquire() as conn:
        rows = await repository.agency_load(conn)
    return web.json_response([dict(r) for r in rows])


@guarded
async def reassign(request: web.Request) -> web.Response:
    actor = await _coordinator_on_report(request)
    body = await _body(request, ReassignBody)
    workflow = request.app[WORKFLOW]
    codes = [c.upper() for c in body.co_agencies]
    return await _act(request, workflow.reassign, actor, body.agency_code.upper(), codes, body.reason, _cause(request))


@guarded
async def merge(request: web.Request) -> web.Response:
    actor = await _coordinator_on_report(request)
    body = await _body(request, MergeBody)
    workflow = request.app[WORKFLOW]
    updated = await workflow.merge(request.app[DB_POOL], _report_id(request), body.into, actor, _cause(request))
    return web.json_response(view(updated))


@guarded
async def decide_extension(request: web.Request) -> web.Response:
    actor = await _coordinator_on_report(request)
    body = await _body(request, DecisionBody)
    return await _act(request, request.app[WORKFLOW].decide_extension, actor, body.approve, _cause(request))


def add_work_routes(app: web.Application, workflow: Workflow) -> None:
    app[WORKFLOW] = workflow
    work = "/api/v1/work/reports"
    app.router.add_get(work, list_queue)
    app.router.add_get(work + "/{report_id}", show_report)
    app.router.add_post(work + "/{report_id}/accept", accept)
    app.router.add_post(work + "/{report_id}/return", return_report)
    app.router.add_post(work + "/{report_id}/information-requests", request_information)
    app.router.add_post(work + "/{report_id}/extension-requests", request_extension)
    app.router.add_post(work + "/{report_id}/updates", post_update)
    app.router.add_post(work + "/{report_id}/contributions", contribute)
    app.router.add_post(work + "/{report_id}/answer", answer)
    app.router.add_post(work + "/{report_id}/reject", reject)
    coordination = "/api/v1/coordination"
    app.router.add_get(coordination + "/triage", triage_queue)
    app.router.add_get(coordination + "/overdue", overdue_list)
    app.router.add_get(coordination + "/load", load)
    app.router.add_post(coordination + "/reports/{report_id}/reassign", reassign)
    app.router.add_post(coordination + "/reports/{report_id}/merge", merge)
    app.router.add_post(coordination + "/reports/{report_id}/extension", decide_extension)
