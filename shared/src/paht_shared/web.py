"""HTTP pieces every service shares: correlation ids, JSON errors, /healthz, /readyz, /metrics."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import asyncpg
import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

from paht_shared.failures import is_dependency_failure

log = structlog.get_logger("paht.web")

ReadinessCheck = Callable[[], Awaitable[None]]
READINESS_CHECKS: web.AppKey[dict[str, ReadinessCheck]] = web.AppKey("readiness_checks", dict)
# Gauges read from the database when Prometheus scrapes (outbox backlog), not kept up to date in between.
MetricsRefresher = Callable[[], Awaitable[None]]
METRICS_REFRESHERS: web.AppKey[list[MetricsRefresher]] = web.AppKey("metrics_refreshers", list)

REQUESTS = Counter("paht_http_requests_total", "HTTP requests", ["route", "method", "status"])
LATENCY = Histogram("paht_http_request_seconds", "HTTP request latency", ["route", "method"])

QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})  # probes would drown the log
CORRELATION_HEADER = "X-Correlation-Id"
CORRELATION_ID: web.RequestKey[str] = web.RequestKey("correlation_id", str)
RETRY_AFTER_SECONDS = 5  # a PostgreSQL restart takes seconds; clients and proxies back off this long
UNAVAILABLE_MESSAGE = "Hệ thống tạm thời gián đoạn, vui lòng thử lại sau ít phút."


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The one error shape: {"errors": [{"field", "code", "message"}]}; messages are Vietnamese."""
    return {"errors": [{"field": field, "code": code, "message": message}]}


def json_error(status: int, code: str, message: str, field: str | None = None) -> web.Response:
    return web.json_response(error_body(code, message, field), status=status)


class Refused(Exception):
    """A request refused deep inside a handler's parsing: carries the 4xx answer up to the handler's guard."""

    def __init__(self, response: web.Response) -> None:
        super().__init__("refused")
        self.response = response


@web.middleware
async def observability_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Binds a correlation id per request, measures it, and turns surprises into a JSON 500 without details
    (a dependency outage into a 503 with Retry-After)."""
    incoming = request.headers.get(CORRELATION_HEADER, "")
    correlation_id = incoming if 0 < len(incoming) <= 100 and incoming.isprintable() else str(uuid.uuid4())
    request[CORRELATION_ID] = correlation_id
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
    started = time.perf_counter()
    status = 500
    with structlog.contextvars.bound_contextvars(correlation_id=correlation_id, request_id=str(uuid.uuid4())):
        try:
            response = await handler(request)
            status = response.status
        except web.HTTPException as exc:
            status = exc.status
            if exc.status >= 400 and exc.content_type != "application/json":
                response = json_error(exc.status, _http_code(exc.status), _http_message(exc.status))
            else:
                exc.headers[CORRELATION_HEADER] = correlation_id  # refusals raised as JSON keep the id too
                raise
        except asyncio.CancelledError:
            raise
        except (asyncpg.UntranslatableCharacterError, asyncpg.CharacterNotInRepertoireError):
            # A NUL or an unencodable character in text the client sent: PostgreSQL refuses it (the transaction
            # is rolled back, nothing is half-written). The client's mistake, so a 400, not a 500.
            status = 400
            response = json_error(400, "invalid_text", "Dữ liệu gửi lên chứa ký tự không hợp lệ.")
        except Exception as exc:
            if is_dependency_failure(exc):
                # The database (or another dependency) is down or restarting: not the request's fault and
                # not a bug; the client may retry the same request (Idempotency-Key) once it is back.
                status = 503
                log.warning("dependency_unavailable", route=route, method=request.method, error=type(exc).__name__)
                response = json_error(503, "service_unavailable", UNAVAILABLE_MESSAGE)
                response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            else:
                log.exception("request_failed", route=route, method=request.method)
                response = json_error(500, "internal_error", "Hệ thống đang gặp sự cố, vui lòng thử lại sau.")
        finally:
            elapsed = time.perf_counter() - started
            LATENCY.labels(route, request.method).observe(elapsed)
            REQUESTS.labels(route, request.method, str(status)).inc()
            if route not in QUIET_ROUTES:
                # the route pattern, never the path or query string: those can carry identifiers
                log.info(
                    "http_request",
                    method=request.method,
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 1),
                )
    response.headers[CORRELATION_HEADER] = correlation_id
    return response


def _http_code(status: int) -> str:
    return {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type"}.get(
        status, "bad_request"
    )


def _http_message(status: int) -> str:
    return {
        404: "Không tìm thấy nội dung yêu cầu.",
        405: "Phương thức không được hỗ trợ.",
        413: "Dữ liệu gửi lên vượt quá dung lượng cho phép.",
        415: "Định dạng dữ liệu không được hỗ trợ.",
    }.get(status, "Yêu cầu không hợp lệ.")


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    results: dict[str, str] = {}
    ready = True
    for name, check in request.app[READINESS_CHECKS].items():
        try:
            await asyncio.wait_for(check(), timeout=3)
            results[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means not ready; the type says why
            ready = False
            results[name] = f"unavailable: {type(exc).__name__}"
    return web.json_response(
        {"status": "ok" if ready else "unavailable", "checks": results}, status=200 if ready else 503
    )


async def metrics(request: web.Request) -> web.Response:
    for refresh in request.app[METRICS_REFRESHERS]:
        try:
            await asyncio.wait_for(refresh(), timeout=3)
        except Exception as exc:  # noqa: BLE001 - a scrape still returns what it can
            log.warning("metrics_refresh_failed", error=type(exc).__name__)
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def new_app(client_max_size: int = 1024**2, middlewares: Iterable[Middleware] = ()) -> web.Application:
    """An application with the shared middleware and operational routes; services add theirs.

    `middlewares` run inside the observability middleware, so their responses and errors are measured too.
    """
    app = web.Application(middlewares=[observability_middleware, *middlewares], client_max_size=client_max_size)
    app[READINESS_CHECKS] = {}
    app[METRICS_REFRESHERS] = []
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app
