"""Intake's API as an OpenAPI document: every route, its request and answer models, who may call it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from intake.handlers import _Period
from intake.hotline import CallerHistory
from intake.hotline_handlers import HOTLINE_ROLES, CallerLookup
from intake.models import (
    NotificationChoice,
    OperatorReport,
    ProvideInformation,
    PublicPage,
    PublicReport,
    PublicStats,
    RateAnswer,
    ReopenReport,
    ReportReceipt,
    SubmitReport,
    TrackedReport,
)
from intake.open311.handlers import NewKey
from intake.open311.keys import ApiKey, IssuedKey
from intake.open311.mapping import CreatedRequest, Service, ServiceDefinition, ServiceRequest, TokenAnswer
from intake.staff import ReporterView
from paht_shared.auth import Role
from paht_shared.contracts import ReportStatus
from paht_shared.openapi import STAFF, TRACKING_SECRET, ApiDescription, Operation, Reply

IDEMPOTENCY = {"Idempotency-Key": "The client's key of this submission: a retry with the same key is answered once."}
CODE = {"tracking_code": {"type": "string", "minLength": 1, "maxLength": 40}}
STAFF_ROLES = (Role.OFFICER, Role.COORDINATOR, Role.ADMIN)
FORMATS = ("application/json", "text/xml")


class Category(BaseModel):
    code: str
    name: str
    field: str
    public_allowed: bool


class Place(BaseModel):
    code: str
    name: str


class PublicQuery(BaseModel):
    """The public list's query parameters (`q`: words searched in the masked texts)."""

    model_config = ConfigDict(extra="forbid")
    category: str | None = Field(default=None, max_length=64)
    ward_code: str | None = Field(default=None, max_length=10)
    status: ReportStatus | None = None
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None
    page: int = Field(default=1, ge=1, le=10_000)
    per_page: int = Field(default=20, ge=1, le=100)


class ReasonQuery(BaseModel):
    reason: str = Field(description="Why the reporter's identity is needed: 10-500 characters, audited.")


class Open311Error(BaseModel):
    code: int
    description: str


class Open311Post(BaseModel):
    """GeoReport v2's POST fields, plus `public` (ours: the report, never the reporter, may be shown)."""

    api_key: str = Field(description="The integrator's key, issued by an admin.")
    service_code: str
    description: str
    jurisdiction_id: str | None = None
    lat: str | None = None
    long: str | None = None
    address_string: str | None = None
    address_id: str | None = None
    email: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    media_url: str | None = None
    public: str | None = None


class Open311Query(BaseModel):
    """GET requests' parameters: lists are comma-separated."""

    service_request_id: str | None = None
    service_code: str | None = None
    status: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    page: str | None = None
    page_size: str | None = None


class Discovery(BaseModel):
    changeset: str
    contact: str
    key_service: str
    endpoints: list[dict[str, Any]]


OPEN311_ERRORS = Reply(list[Open311Error], "The Open311 error list, in the format asked for.", FORMATS)
FMT = {"fmt": {"type": "string", "enum": ["json", "xml"]}}


def open311(shape: Any) -> Reply:
    return Reply(shape, "JSON or XML, as the path's extension asks.", FORMATS)


def _citizen_action(path: str, summary: str, body: type[BaseModel]) -> Operation:
    return Operation(
        "POST",
        f"/api/v1/reports/{{tracking_code}}/{path}",
        summary,
        {200: TrackedReport},
        body=body,
        auth=(TRACKING_SECRET,),
        path_params=CODE,
        tags=("citizens",),
    )


OPERATIONS = (
    Operation("GET", "/api/v1/categories", "Active categories.", {200: list[Category]}, tags=("reference",)),
    Operation("GET", "/api/v1/wards", "The province's wards and communes.", {200: list[Place]}, tags=("reference",)),
    Operation("GET", "/api/v1/areas", "Named areas.", {200: list[Place]}, tags=("reference",)),
    Operation(
        "POST",
        "/api/v1/reports",
        "Submit a report (web form or app).",
        {201: ReportReceipt},
        body=SubmitReport,
        headers=IDEMPOTENCY,
        tags=("citizens",),
    ),
    Operation(
        "GET",
        "/api/v1/reports/{tracking_code}",
        "A citizen's own report, by tracking code and secret.",
        {200: TrackedReport},
        auth=(TRACKING_SECRET,),
        path_params=CODE,
        tags=("citizens",),
    ),
    _citizen_action("information", "Answer the agency's request for information.", ProvideInformation),
    _citizen_action("rating", "Rate the answer.", RateAnswer),
    _citizen_action("reopen", "Reopen an answered report.", ReopenReport),
    _citizen_action("notifications", "Choose the channels of notifications.", NotificationChoice),
    Operation(
        "GET", "/api/v1/public/reports", "Public reports.", {200: PublicPage}, query=PublicQuery, tags=("public",)
    ),
    Operation(
        "GET",
        "/api/v1/public/reports/{tracking_code}",
        "One public report.",
        {200: PublicReport},
        path_params=CODE,
        tags=("public",),
    ),
    Operation("GET", "/api/v1/public/stats", "Public statistics.", {200: PublicStats}, query=_Period, tags=("public",)),
    Operation(
        "GET",
        "/api/v1/staff/reports/{report_id}/reporter",
        "Who sent a report (audited; `reason`: 10-500 characters).",
        {200: ReporterView},
        query=ReasonQuery,
        auth=(STAFF,),
        roles=STAFF_ROLES,
        tags=("staff",),
    ),
    Operation(
        "POST",
        "/api/v1/operator/reports",
        "A hotline call entered by an operator.",
        {201: ReportReceipt},
        body=OperatorReport,
        headers=IDEMPOTENCY,
        auth=(STAFF,),
        roles=HOTLINE_ROLES,
        tags=("hotline",),
    ),
    Operation(
        "POST",
        "/api/v1/operator/caller-lookups",
        "A caller's earlier reports (audited).",
        {200: CallerHistory},
        body=CallerLookup,
        auth=(STAFF,),
        roles=HOTLINE_ROLES,
        tags=("hotline",),
    ),
    Operation(
        "POST",
        "/api/v1/admin/open311-keys",
        "Issue an Open311 api key (shown once).",
        {201: IssuedKey},
        body=NewKey,
        auth=(STAFF,),
        roles=(Role.ADMIN,),
        tags=("open311",),
    ),
    Operation(
        "GET",
        "/api/v1/admin/open311-keys",
        "The Open311 api keys.",
        {200: list[ApiKey]},
        auth=(STAFF,),
        roles=(Role.ADMIN,),
        tags=("open311",),
    ),
    Operation(
        "DELETE",
        "/api/v1/admin/open311-keys/{key_id}",
        "Revoke an Open311 api key.",
        {200: ApiKey},
        auth=(STAFF,),
        roles=(Role.ADMIN,),
        tags=("open311",),
    ),
    Operation(
        "GET",
        "/open311/v2/discovery.{fmt}",
        "GeoReport v2 discovery.",
        {200: open311(Discovery)},
        path_params=FMT,
        errors=OPEN311_ERRORS,
        tags=("open311",),
    ),
    Operation(
        "GET",
        "/open311/v2/services.{fmt}",
        "GeoReport v2 services (our categories).",
        {200: open311(list[Service])},
        path_params=FMT,
        errors=OPEN311_ERRORS,
        tags=("open311",),
    ),
    Operation(
        "GET",
        "/open311/v2/services/{service_code}.{fmt}",
        "A service's definition (no attributes).",
        {200: open311(ServiceDefinition)},
        path_params=FMT,
        errors=OPEN311_ERRORS,
        tags=("open311",),
    ),
    Operation(
        "POST",
        "/open311/v2/requests.{fmt}",
        "Submit a report as an integrator (form fields; `api_key` among them).",
        {201: open311(list[CreatedRequest])},
        body=Open311Post,
        body_media=("application/x-www-form-urlencoded", "multipart/form-data"),
        headers=IDEMPOTENCY,
        path_params=FMT,
        errors=OPEN311_ERRORS,
        tags=("open311",),
    ),
    Operation(
        "GET",
        "/open311/v2/requests.{fmt}",
        "Public reports as GeoReport v2 service requests.",
        {200: open311(list[ServiceRequest])},
        query=Open311Query,
        path_params=FMT,
        errors=OPEN311_ERRORS,
        tags=("open311",),
    ),
    Operation(
        "GET",
        "/open311/v2/requests/{service_request_id}.{fmt}",
        "One public report as a service request.",
        {200: open311(list[ServiceRequest])},
        path_params=FMT,
        errors=OPEN311_ERRORS,
        tags=("open311",),
    ),
    Operation(
        "GET",
        "/open311/v2/tokens/{token}.{fmt}",
        "The service request id of a submission's token.",
        {200: open311(list[TokenAnswer])},
        path_params=FMT,
        errors=OPEN311_ERRORS,
        tags=("open311",),
    ),
)

API = ApiDescription(
    title="PAHT intake",
    version="1",
    description="Citizens' reports: submission, tracking, the public list, the hotline and Open311.",
    operations=OPERATIONS,
)
