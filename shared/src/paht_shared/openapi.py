"""Each API's OpenAPI 3.1 document, generated from the pydantic models its handlers parse and answer with.

Handlers parse their bodies themselves (they decide the 4xx answers), so routes are not decorated: a
service lists its operations in its own `openapi.py` (method, path, request model, response models per
status, who may call) and `serve_openapi` publishes the document at `GET /openapi.json`. The operational
routes every service has (/healthz, /readyz, /metrics) are described here once. `undescribed_routes` lists
the routes an application serves without a description, so a test can fail on a forgotten one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from paht_shared.auth import Role

OPENAPI_PATH = "/openapi.json"
REF_TEMPLATE = "#/components/schemas/{model}"
JSON = "application/json"

# Security schemes an operation may name in `auth`.
STAFF = "staff"  # Authorization: Bearer <staff token>
TRACKING_SECRET = "tracking_secret"  # noqa: S105 - a scheme's name, not a secret
UPLOAD_TOKEN = "upload_token"  # noqa: S105 - a scheme's name, not a secret
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    STAFF: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A staff token (EdDSA JWT) from routing's /api/v1/auth/login or the province's OIDC.",
    },
    TRACKING_SECRET: {
        "type": "apiKey",
        "in": "header",
        "name": "X-Tracking-Secret",
        "description": "The secret a citizen received with the tracking code.",
    },
    UPLOAD_TOKEN: {
        "type": "apiKey",
        "in": "header",
        "name": "X-Upload-Token",
        "description": "The token media gave the uploader of a file.",
    },
}


class FieldError(BaseModel):
    field: str | None
    code: str
    message: str


class ErrorBody(BaseModel):
    """The one error shape of every API: `{"errors": [{"field", "code", "message"}]}`."""

    errors: list[FieldError]


@dataclass(frozen=True)
class Reply:
    """One answer of an operation: `shape` is a type pydantic can describe (a model, `list[Model]`, ...), or
    None for a body the document does not describe (a file). `media` lists its content types."""

    shape: Any
    description: str = ""
    media: tuple[str, ...] = (JSON,)


@dataclass(frozen=True)
class Operation:
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str  # aiohttp's pattern: /api/v1/reports/{tracking_code}
    summary: str
    replies: Mapping[int, Reply | Any]  # a bare shape is a JSON reply
    body: Any = None  # the request body's shape (a model, usually)
    body_media: tuple[str, ...] = (JSON,)
    required_body: bool = True
    query: type[BaseModel] | None = None  # one query parameter per field
    headers: Mapping[str, str] = field(default_factory=dict)  # request header name -> description
    path_params: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # schema per path parameter
    auth: tuple[str, ...] = ()  # SECURITY_SCHEMES names, any one of which is enough
    roles: tuple[Role, ...] = ()  # staff roles allowed (x-roles), when auth includes STAFF
    errors: Reply | None = None  # the shape of every other answer; ErrorBody unless said
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApiDescription:
    title: str
    version: str
    description: str
    operations: tuple[Operation, ...]


OPERATIONAL = (
    Operation("GET", "/healthz", "The process is up.", {200: dict[str, str]}, tags=("operations",)),
    Operation(
        "GET",
        "/readyz",
        "Its PostgreSQL, Kafka and S3 are reachable.",
        {200: dict[str, Any], 503: dict[str, Any]},
        tags=("operations",),
    ),
    Operation(
        "GET",
        "/metrics",
        "Prometheus metrics.",
        {200: Reply(str, "Prometheus text format", ("text/plain",))},
        tags=("operations",),
    ),
    Operation("GET", OPENAPI_PATH, "This document.", {200: dict[str, Any]}, tags=("operations",)),
)

_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


def _reply(value: Reply | Any) -> Reply:
    return value if isinstance(value, Reply) else Reply(value)


def document(api: ApiDescription) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `api` plus the operational routes."""
    operations = (*api.operations, *OPERATIONAL)
    shapes: list[tuple[int, JsonSchemaMode, TypeAdapter[Any]]] = []
    keys: dict[tuple[int, str], tuple[int, JsonSchemaMode]] = {}

    def key_of(shape: Any, mode: JsonSchemaMode) -> tuple[int, JsonSchemaMode]:
        index = (id(shape), mode)
        if index not in keys:
            keys[index] = (len(shapes), mode)
            shapes.append((len(shapes), mode, TypeAdapter(shape)))
        return keys[index]

    default_error = Reply(ErrorBody, "Refused or failed: the error list.")
    for op in operations:
        if op.body is not None:
            key_of(op.body, "validation")
        if op.query is not None:
            key_of(op.query, "validation")
        for reply in (*map(_reply, op.replies.values()), op.errors or default_error):
            if reply.shape is not None:
                key_of(reply.shape, "serialization")
    schemas, definitions = TypeAdapter.json_schemas(shapes, ref_template=REF_TEMPLATE)

    def schema(shape: Any, mode: JsonSchemaMode) -> dict[str, Any]:
        return schemas[key_of(shape, mode)]

    def content(reply: Reply) -> dict[str, Any]:
        if reply.shape is None:
            return {media: {} for media in reply.media}
        described = schema(reply.shape, "serialization")
        return {media: {"schema": described if media == JSON else _non_json(media)} for media in reply.media}

    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        path = _PARAM.sub(r"{\1}", op.path)
        parameters: list[dict[str, Any]] = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": op.path_params.get(name, {"type": "string", "minLength": 1}),
            }
            for name in _PARAM.findall(op.path)
        ]
        if op.query is not None:
            properties = schema(op.query, "validation")
            if "$ref" in properties:
                properties = definitions.get("$defs", {})[_ref_name(properties)]
            required = set(properties.get("required", []))
            parameters += [
                {"name": name, "in": "query", "required": name in required, "schema": prop}
                for name, prop in properties.get("properties", {}).items()
            ]
        parameters += [
            {"name": name, "in": "header", "required": False, "description": text, "schema": {"type": "string"}}
            for name, text in op.headers.items()
        ]
        described: dict[str, Any] = {
            "operationId": f"{op.method.lower()}_{path.strip('/').replace('/', '_')}",
            "summary": op.summary,
            "tags": list(op.tags),
            "parameters": parameters,
            "responses": {
                **{
                    str(status): {"description": _reply(r).description or "", "content": content(_reply(r))}
                    for status, r in op.replies.items()
                },
                "default": {
                    "description": (op.errors or default_error).description,
                    "content": content(op.errors or default_error),
                },
            },
            "security": [{scheme: []} for scheme in op.auth] if op.auth else [],
        }
        if op.roles:
            described["x-roles"] = [role.value for role in op.roles]
        if op.body is not None:
            body_schema = schema(op.body, "validation")
            described["requestBody"] = {
                "required": op.required_body,
                "content": {media: {"schema": body_schema} for media in op.body_media},
            }
        paths.setdefault(path, {})[op.method.lower()] = described
    return {
        "openapi": "3.1.0",
        "info": {"title": api.title, "version": api.version, "description": api.description},
        "paths": paths,
        "components": {"schemas": definitions.get("$defs", {}), "securitySchemes": SECURITY_SCHEMES},
    }


def _ref_name(described: dict[str, Any]) -> str:
    return str(described["$ref"]).rsplit("/", 1)[-1]


def _non_json(_media: str) -> dict[str, Any]:
    return {"type": "string"}  # XML, Prometheus text: described by their own formats, not by JSON Schema


def serve_openapi(app: web.Application, api: ApiDescription) -> None:
    """`GET /openapi.json` on `app`: the document is built once, when the route is added."""
    body = document(api)

    async def openapi(_request: web.Request) -> web.Response:
        return web.json_response(body)

    app.router.add_get(OPENAPI_PATH, openapi)


def _served(app: web.Application) -> set[tuple[str, str]]:
    return {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"  # aiohttp adds HEAD to every GET
    }


def undescribed_routes(app: web.Application, api: ApiDescription) -> list[str]:
    """`METHOD /path` of every route `app` serves that `api` (with the operational routes) does not describe."""
    described = {(op.method, op.path) for op in (*api.operations, *OPERATIONAL)}
    return sorted(f"{method} {path}" for method, path in _served(app) - described)


def unserved_operations(app: web.Application, api: ApiDescription) -> list[str]:
    """`METHOD /path` of every operation `api` describes that `app` does not serve (a stale description)."""
    described = {(op.method, op.path) for op in (*api.operations, *OPERATIONAL)}
    return sorted(f"{method} {path}" for method, path in described - _served(app))
