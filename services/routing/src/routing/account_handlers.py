"""HTTP of staff accounts: login (password or OpenID Connect) and the admin's account API."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from paht_shared.auth import Role, public_jwks, require_staff
from paht_shared.runtime import DB_POOL
from paht_shared.web import Refused, json_error
from routing import accounts
from routing.account_models import (
    CreateStaff,
    InvalidAccount,
    IssuedToken,
    LoginRequest,
    OidcLoginRequest,
    UpdateStaff,
    parse,
)
from routing.config import Settings

ACCOUNT_SETTINGS: web.AppKey[Settings] = web.AppKey("account_settings", Settings)
PASSWORDS: web.AppKey[accounts.Passwords] = web.AppKey("passwords", accounts.Passwords)
OIDC: web.AppKey[accounts.OidcVerifier] = web.AppKey("oidc", accounts.OidcVerifier)

Handler = Callable[[web.Request], Awaitable[web.Response]]


def add_account_routes(app: web.Application, settings: Settings) -> None:
    """Login and the admin's account API on the routing application."""
    if settings.auth_signing_key:
        public_jwks(settings.auth_signing_key)  # a broken key stops start-up instead of failing every login
    app[ACCOUNT_SETTINGS] = settings
    app[PASSWORDS] = accounts.Passwords()
    oidc = accounts.OidcVerifier.from_settings(settings)
    if oidc is not None:
        app[OIDC] = oidc
    app.router.add_post("/api/v1/auth/login", login)
    app.router.add_post("/api/v1/auth/oidc", login_with_oidc)
    app.router.add_post("/api/v1/auth/refresh", refresh_token)
    app.router.add_get("/api/v1/admin/staff", list_staff)
    app.router.add_post("/api/v1/admin/staff", create_staff)
    app.router.add_patch("/api/v1/admin/staff/{id}", update_staff)


def _answers(handler: Handler) -> Handler:
    """The use cases' refusals as their HTTP answers (Vietnamese messages; never the submitted values)."""

    async def wrapper(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except Refused as exc:
            return exc.response
        except InvalidAccount as exc:
            return web.json_response({"errors": exc.errors}, status=422)
        except accounts.AuthNotConfigured:
            response = json_error(503, "auth_not_configured", "Hệ thống chưa được cấu hình đăng nhập cán bộ.")
        except accounts.InvalidCredentials:
            response = json_error(401, "invalid_credentials", "Tên đăng nhập hoặc mật khẩu không đúng.")
        except accounts.AccountLocked as exc:
            response = json_error(
                429, "account_locked", "Tài khoản tạm khóa do đăng nhập sai nhiều lần. Vui lòng thử lại sau."
            )
            response.headers["Retry-After"] = str(exc.retry_after)
        except accounts.OidcNotConfigured:
            response = json_error(404, "oidc_not_configured", "Chưa cấu hình đăng nhập qua nhà cung cấp định danh.")
        except accounts.InvalidIdToken:
            response = json_error(401, "invalid_id_token", "Mã định danh không hợp lệ hoặc đã hết hạn.")
        except accounts.AccountNotLinked:
            response = json_error(
                401, "account_not_linked", "Tài khoản định danh chưa được gắn với tài khoản cán bộ nào đang hoạt động."
            )
        except accounts.OidcUnavailable:
            response = json_error(
                503, "oidc_unavailable", "Chưa kết nối được nhà cung cấp định danh, vui lòng thử lại sau."
            )
            response.headers["Retry-After"] = "5"
        except accounts.AccountNotFound:
            response = json_error(404, "account_not_found", "Không tìm thấy tài khoản cán bộ.")
        except accounts.AccountConflict as exc:
            response = json_error(409, exc.code, _CONFLICTS[exc.code], _CONFLICT_FIELDS.get(exc.code))
        return response

    wrapper.__name__ = handler.__name__
    return wrapper


_CONFLICTS = {
    "username_taken": "Tên đăng nhập đã được sử dụng.",
    "oidc_subject_taken": "Tài khoản định danh này đã được gắn với một tài khoản cán bộ khác.",
    "own_account": "Không thể tự khóa hoặc tự hạ quyền tài khoản quản trị của chính mình.",
}
_CONFLICT_FIELDS = {"username_taken": "username", "oidc_subject_taken": "oidc_subject"}


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Refused(json_error(400, "invalid_json", "Dữ liệu gửi lên không phải JSON hợp lệ.")) from None
    if not isinstance(body, dict):
        raise Refused(json_error(400, "invalid_json", "Dữ liệu gửi lên phải là một đối tượng JSON."))
    return body


def _token_response(issued: IssuedToken) -> web.Response:
    response = web.json_response(issued.model_dump(mode="json"))
    # RFC 6749 5.1: a token is never stored by a cache on the way.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@_answers
async def login(request: web.Request) -> web.Response:
    body = parse(LoginRequest, await _body(request))
    issued = await accounts.login(request.app[DB_POOL], request.app[ACCOUNT_SETTINGS], request.app[PASSWORDS], body)
    return _token_response(issued)


@_answers
async def refresh_token(request: web.Request) -> web.Response:
    """The bearer's token, renewed while their account still stands as it was (no body)."""
    identity = require_staff(request)
    issued = await accounts.refresh(request.app[DB_POOL], request.app[ACCOUNT_SETTINGS], identity)
    return _token_response(issued)


@_answers
async def login_with_oidc(request: web.Request) -> web.Response:
    body = parse(OidcLoginRequest, await _body(request))
    issued = await accounts.login_with_oidc(
        request.app[DB_POOL], request.app[ACCOUNT_SETTINGS], request.app.get(OIDC), body
    )
    return _token_response(issued)


@_answers
async def list_staff(request: web.Request) -> web.Response:
    require_staff(request, Role.ADMIN)
    staff = await accounts.list_staff(request.app[DB_POOL])
    return web.json_response([s.model_dump(mode="json") for s in staff])


@_answers
async def create_staff(request: web.Request) -> web.Response:
    actor = accounts.Actor.of(require_staff(request, Role.ADMIN))
    cmd = parse(CreateStaff, await _body(request))
    view = await accounts.create_staff(request.app[DB_POOL], request.app[PASSWORDS], actor, cmd)
    return web.json_response(view.model_dump(mode="json"), status=201)


@_answers
async def update_staff(request: web.Request) -> web.Response:
    actor = accounts.Actor.of(require_staff(request, Role.ADMIN))
    try:
        account_id = uuid.UUID(request.match_info["id"])
    except ValueError:
        raise accounts.AccountNotFound from None
    cmd = parse(UpdateStaff, await _body(request))
    view = await accounts.update_staff(request.app[DB_POOL], request.app[PASSWORDS], actor, account_id, cmd)
    return web.json_response(view.model_dump(mode="json"))
