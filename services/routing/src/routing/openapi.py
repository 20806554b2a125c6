"""Routing's API as an OpenAPI document: every route, its request and answer models, who may call it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, create_model

from paht_shared.auth import Role
from paht_shared.openapi import STAFF, ApiDescription, Operation
from routing.account_models import CreateStaff, IssuedToken, LoginRequest, OidcLoginRequest, StaffView, UpdateStaff
from routing.directory import AgencyKind
from routing.directory_handlers import AgencyPatch, CategoryPatch, NewAgency, NewRule, RulePatch
from routing.domain import Agency, Assignment, AssignmentView
from routing.work_handlers import (
    AnswerBody,
    DecisionBody,
    ExtensionBody,
    MergeBody,
    QueueQuery,
    ReassignBody,
    RejectBody,
    ReturnBody,
    TextBody,
)
from routing.work_handlers import QuestionBody as InformationRequestBody

STAFF_ROLES = (Role.OFFICER, Role.COORDINATOR, Role.ADMIN)
COORDINATORS = (Role.COORDINATOR, Role.ADMIN)
ADMINS = (Role.ADMIN,)
REPORT_ID = {"report_id": {"type": "string", "format": "uuid"}}


class IdentityLink(BaseModel):
    shared: bool
    where: str | None


# The agency's view of a report (work_handlers.view): Assignment's fields, whether it is overdue, and where
# its reporter is shown. Built from Assignment's fields, since Assignment has `overdue` as a property.
_ASSIGNMENT_FIELDS: dict[str, Any] = {name: (f.annotation, f) for name, f in Assignment.model_fields.items()}
WorkItem: type[BaseModel] = create_model(
    "WorkItem", **_ASSIGNMENT_FIELDS, overdue=(bool, ...), identity=(IdentityLink, ...)
)
WorkItemDetail: type[BaseModel] = create_model(
    "WorkItemDetail", __base__=WorkItem, history=(list[dict[str, Any]], ...), contributions=(list[dict[str, Any]], ...)
)
WorkPage: type[BaseModel] = create_model(
    "WorkPage", items=(list[WorkItem], ...), page=(int, ...), per_page=(int, ...), total=(int, ...)
)


class AgencyLoad(BaseModel):
    code: str
    name: str
    open: int
    overdue: int
    answered: int
    answered_on_time: int
    returns: int


class LimitQuery(BaseModel):
    limit: int = Field(default=50, description="At most 500.")


class AgencyQuery(BaseModel):
    kind: AgencyKind | None = None


class RuleQuery(BaseModel):
    category: str | None = None
    agency: str | None = None
    at: datetime | None = None


def _staff(
    tag: str, roles: Any, method: Any, path: str, summary: str, replies: dict[int, Any], **more: Any
) -> Operation:
    """An operation for staff tokens of `roles`."""
    return Operation(method, path, summary, replies, auth=(STAFF,), roles=roles, tags=(tag,), **more)


def _work(path: str, summary: str, body: type[BaseModel] | None = None) -> Operation:
    """An action of the report's lead agency."""
    reply = {200: WorkItem}
    return _staff(
        "work", STAFF_ROLES, "POST", f"/api/v1/work/reports/{{report_id}}/{path}", summary, reply,
        body=body, path_params=REPORT_ID,
    )  # fmt: skip


def _queue(tag: str, roles: Any, path: str, summary: str) -> Operation:
    """A page of reports (an agency's queue, the coordinator's lists)."""
    return _staff(tag, roles, "GET", path, summary, {200: WorkPage}, query=QueueQuery)


def _coordination(path: str, summary: str, body: type[BaseModel]) -> Operation:
    reply = {200: WorkItem}
    return _staff(
        "coordination", COORDINATORS, "POST", f"/api/v1/coordination/reports/{{report_id}}/{path}", summary, reply,
        body=body, path_params=REPORT_ID,
    )  # fmt: skip


def _admin(method: Any, path: str, summary: str, replies: dict[int, Any], **more: Any) -> Operation:
    return _staff("admin", ADMINS, method, path, summary, replies, **more)


OPERATIONS = (
    Operation("GET", "/api/v1/agencies", "Active agencies.", {200: list[Agency]}, tags=("agencies",)),
    _staff(
        "agencies",
        STAFF_ROLES,
        "GET",
        "/api/v1/agencies/{code}/assignments",
        "An agency's newest assignments.",
        {200: list[AssignmentView]},
        query=LimitQuery,
    ),
    _queue("work", STAFF_ROLES, "/api/v1/work/reports", "The caller's work queue (an officer's own agency)."),
    _staff(
        "work",
        STAFF_ROLES,
        "GET",
        "/api/v1/work/reports/{report_id}",
        "One report with its history.",
        {200: WorkItemDetail},
        path_params=REPORT_ID,
    ),
    _work("accept", "Accept the report for handling."),
    _work("return", "Return a report that is not the agency's.", ReturnBody),
    _work("information-requests", "Ask the citizen for information.", InformationRequestBody),
    _work("extension-requests", "Ask the coordinator for more time.", ExtensionBody),
    _work("updates", "A progress note.", TextBody),
    _work("contributions", "A co-agency's contribution.", TextBody),
    _work("answer", "Answer the report.", AnswerBody),
    _work("reject", "Refuse the report (out of scope, duplicate, ...).", RejectBody),
    _queue("coordination", COORDINATORS, "/api/v1/coordination/triage", "Reports no rule could route."),
    _queue("coordination", COORDINATORS, "/api/v1/coordination/overdue", "Overdue reports."),
    _staff(
        "coordination",
        COORDINATORS,
        "GET",
        "/api/v1/coordination/load",
        "Open, overdue and answered reports per agency.",
        {200: list[AgencyLoad]},
    ),
    _coordination("reassign", "Give the report to another agency.", ReassignBody),
    _coordination("merge", "Merge the report into another.", MergeBody),
    _coordination("extension", "Decide an extension request.", DecisionBody),
    Operation("GET", "/api/v1/categories", "The category tree.", {200: list[dict[str, Any]]}, tags=("reference",)),
    _admin("GET", "/api/v1/admin/agencies", "Every agency.", {200: list[dict[str, Any]]}, query=AgencyQuery),
    _admin("POST", "/api/v1/admin/agencies", "Create an agency.", {201: dict[str, Any]}, body=NewAgency),
    _admin("PATCH", "/api/v1/admin/agencies/{code}", "Change an agency.", {200: dict[str, Any]}, body=AgencyPatch),
    _admin("GET", "/api/v1/admin/rules", "Routing rules.", {200: list[dict[str, Any]]}, query=RuleQuery),
    _admin("POST", "/api/v1/admin/rules", "Create a routing rule.", {201: dict[str, Any]}, body=NewRule),
    _admin("PATCH", "/api/v1/admin/rules/{rule_id}", "End a routing rule.", {200: dict[str, Any]}, body=RulePatch),
    _admin("GET", "/api/v1/admin/categories", "Every category.", {200: list[dict[str, Any]]}),
    _admin("PATCH", "/api/v1/admin/categories/{code}", "Change a category.", {200: dict[str, Any]}, body=CategoryPatch),
    Operation(
        "POST", "/api/v1/auth/login", "Log in with a password.", {200: IssuedToken}, body=LoginRequest, tags=("auth",)
    ),
    Operation(
        "POST",
        "/api/v1/auth/oidc",
        "Log in with the province's OpenID Connect token.",
        {200: IssuedToken},
        body=OidcLoginRequest,
        tags=("auth",),
    ),
    _staff(
        "auth",
        (*STAFF_ROLES, Role.OPERATOR),
        "POST",
        "/api/v1/auth/refresh",
        "A fresh token for the caller.",
        {200: IssuedToken},
    ),
    _admin("GET", "/api/v1/admin/staff", "Staff accounts.", {200: list[StaffView]}),
    _admin("POST", "/api/v1/admin/staff", "Create a staff account.", {201: StaffView}, body=CreateStaff),
    _admin(
        "PATCH",
        "/api/v1/admin/staff/{id}",
        "Change a staff account.",
        {200: StaffView},
        body=UpdateStaff,
        path_params={"id": {"type": "string", "format": "uuid"}},
    ),
)

API = ApiDescription(
    title="PAHT routing",
    version="1",
    description="Agencies' work, the coordinator, the reference data (admin) and staff accounts.",
    operations=OPERATIONS,
)
