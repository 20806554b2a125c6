"""Staff login and logout, and the staff session every console page starts from.

The token routing issues lives in the server-side session only: the browser holds the session cookie and
nothing else. A login always starts a new session (the old one is deleted), so an id planted before the
login is worth nothing after it. The token is short-lived (routing's `TOKEN_TTL_SECONDS`): in its last minutes
it is renewed through routing's refresh (which refuses a disabled or changed account), up to
`PORTAL_SESSION_HOURS` after the login. A refused renewal, or a service answering 401, ends the session and the
staff member logs in again.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from aiohttp import web
from aiohttp_session import Session, get_session, new_session

from portal.app_keys import BACKENDS, SESSIONS, SETTINGS
from portal.backends import Answer
from portal.rendering import render

STAFF = "staff"  # the session key (rendering.py shows its subject, role and agency in the header)
RENEW_BEFORE_SECONDS = 300  # a token with less left than this is renewed before the page uses it
FLASH = "flash"
LOGIN_PATH = "/dang-nhap"
# What a new login keeps from the session before it: a hotline call typed when the token expired, and its
# uploaded recording (nothing that grants anything)
CARRIED = ("call_draft", "recording")

LOGIN_ERRORS = {
    "invalid_credentials": "Tên đăng nhập hoặc mật khẩu không đúng.",
    "account_locked": "Tài khoản tạm khóa do đăng nhập sai nhiều lần. Vui lòng thử lại sau {minutes} phút.",
    "auth_not_configured": "Hệ thống chưa được cấu hình đăng nhập cán bộ. Vui lòng liên hệ quản trị.",
}
ROLE_LABELS = {
    "operator": "Điện thoại viên 1022",
    "officer": "Cán bộ cơ quan",
    "coordinator": "Điều phối viên",
    "admin": "Quản trị",
}


@dataclass(frozen=True)
class Staff:
    """Who is logged in, as routing's login answered: the token is for the services, never the browser."""

    token: str
    subject: str
    role: str
    agency: str | None
    expires: float  # unix time when the token stops being accepted
    since: float  # unix time of the login: renewals stop PORTAL_SESSION_HOURS after it

    @classmethod
    def of(cls, raw: Any) -> Staff | None:
        if not isinstance(raw, dict):
            return None
        try:
            return cls(
                str(raw["token"]),
                str(raw["subject"]),
                str(raw["role"]),
                raw.get("agency"),
                float(raw["expires"]),
                float(raw.get("since", 0)),
            )
        except (KeyError, TypeError, ValueError):
            return None

    @property
    def every_agency(self) -> bool:
        return self.role in ("coordinator", "admin")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Refusal(Exception):
    """A 403 or 404 page, raised from deep in a handler and answered by `staff_page` (a raised HTTP error would
    become the services' JSON error body)."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def staff_page(handler: Handler) -> Handler:
    """Every console handler: a `Refusal` on the way is the page it carries."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Refusal as refusal:
            return refusal.response

    wrapper.__name__ = handler.__name__
    wrapper.__doc__ = handler.__doc__
    return wrapper


def add_routes(app: web.Application) -> None:
    app.router.add_get(LOGIN_PATH, login_form)
    app.router.add_post(LOGIN_PATH, login)
    app.router.add_post("/dang-xuat", logout)


def local_path(value: str | None, default: str = "/") -> str:
    """A path on this site only: `//evil.example`, `https://…` and `/\\evil` would send a fresh login away."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(c in value for c in "\r\n\\"):
        return default
    return value


def to_login(request: web.Request, back: str | None = None) -> web.HTTPSeeOther:
    """303 to the login page, coming back to `back` (the page asked for) afterwards."""
    target = local_path(back if back is not None else (request.path_qs if request.method == "GET" else None), "")
    return web.HTTPSeeOther(LOGIN_PATH + (f"?next={quote(target, safe='')}" if target else ""))


async def end_session(request: web.Request) -> None:
    """The session row goes now; the emptied session clears the cookie with this answer."""
    session = await get_session(request)
    await request.app[SESSIONS].forget(session)
    session.invalidate()


async def require_staff_session(request: web.Request, *roles: str, back: str | None = None) -> Staff:
    """The logged-in staff member, if their role is one of `roles` (any role when none is named).

    Not logged in, or the token expired: 303 to the login page (then back to `back` or this page). Another
    role: a 403 page (the handler is wrapped in `staff_page`).
    """
    staff = Staff.of((await get_session(request)).get(STAFF))
    # A dead token cannot be renewed (routing's refresh wants a valid one): only one in its last minutes is.
    if staff is not None and 0 < staff.expires - time.time() < RENEW_BEFORE_SECONDS:
        renewed = await _renewed(request, staff)
        if renewed is None:
            await end_session(request)
            raise to_login(request, back)
        staff = renewed
    if staff is None or staff.expires <= time.time():
        if staff is not None:
            await end_session(request)
        raise to_login(request, back)
    if roles and staff.role not in roles:
        raise await forbidden(request)
    return staff


async def _renewed(request: web.Request, staff: Staff) -> Staff | None:
    """The token renewed by routing (a working day at the console outlives one short token), for as long as
    the account stands as it was and the login is under PORTAL_SESSION_HOURS old; None: log in again."""
    if time.time() - staff.since > request.app[SETTINGS].session_hours * 3600:
        return None
    answer = await request.app[BACKENDS].call("routing", "POST", "/api/v1/auth/refresh", token=staff.token)
    if answer.status != 200 or not isinstance(answer.body, dict):
        return None
    session = await get_session(request)
    session[STAFF] = session[STAFF] | {
        "token": answer.body["access_token"],
        "expires": time.time() + int(answer.body.get("expires_in", 900)) - 10,
    }
    return Staff.of(session[STAFF])


async def forbidden(request: web.Request) -> Refusal:
    return Refusal(await render(request, "console/forbidden.html", status=403))


async def not_found(request: web.Request) -> Refusal:
    return Refusal(await render(request, "console/not_found.html", status=404))


async def staff_call(
    request: web.Request, staff: Staff, service: str, method: str, path: str, *, back: str | None = None, **kw: Any
) -> Answer:
    """A service call with the staff member's token. A 401 (expired or revoked token) ends the session and
    sends them to log in again; a 403 (not for this role) is the 403 page."""
    answer = await request.app[BACKENDS].call(service, method, path, token=staff.token, **kw)
    if answer.status == 401:
        await end_session(request)
        raise to_login(request, back)
    if answer.status == 403 and _code(answer) == "forbidden":
        raise await forbidden(request)
    return answer


def _code(answer: Answer) -> str | None:
    errors = answer.body.get("errors") if isinstance(answer.body, dict) else None
    return str(errors[0].get("code")) if errors and isinstance(errors[0], dict) else None


def error_message(answer: Answer, messages: dict[str, str], default: str) -> str:
    """A refusal in Vietnamese: ours for the codes we know, else the service's own message."""
    errors = answer.body.get("errors") if isinstance(answer.body, dict) else None
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    code = str(first.get("code") or "")
    return messages.get(code) or str(first.get("message") or "") or default


async def flash(request: web.Request, message: str, kind: str = "ok") -> None:
    """A message for the next page (after a redirect)."""
    (await get_session(request))[FLASH] = {"message": message, "kind": kind}


async def take_flash(request: web.Request) -> dict[str, str] | None:
    session = await get_session(request)
    if FLASH not in session:
        return None
    found = session.pop(FLASH)
    return found if isinstance(found, dict) else None


# --- pages ----------------------------------------------------------------------------------------------


def _home_of(role: str) -> str:
    return "/tong-dai" if role == "operator" else "/co-quan"


async def login_form(request: web.Request) -> web.Response:
    staff = Staff.of((await get_session(request)).get(STAFF))
    if staff is not None and staff.expires > time.time():
        raise web.HTTPSeeOther(local_path(request.query.get("next"), _home_of(staff.role)))
    return await render(request, "console/login.html", next=local_path(request.query.get("next"), ""), username="")


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    username = str(form.get("username", "")).strip().lower()
    password = str(form.get("password", ""))
    target = local_path(str(form.get("next", "")), "")
    if not username or not password:
        return await _refused(request, username, target, "Vui lòng nhập tên đăng nhập và mật khẩu.", 422)
    answer = await request.app[BACKENDS].call(
        "routing", "POST", "/api/v1/auth/login", json={"username": username, "password": password}
    )
    if answer.status == 429:
        wait = answer.headers.get("Retry-After", "")
        minutes = max(1, -(-int(wait) // 60)) if wait.isdigit() else 15
        message = LOGIN_ERRORS["account_locked"].format(minutes=minutes)
        return await _refused(request, username, target, message, 429)
    if not answer.ok or not isinstance(answer.body, dict) or "access_token" not in answer.body:
        message = error_message(answer, LOGIN_ERRORS, LOGIN_ERRORS["invalid_credentials"])
        return await _refused(request, username, target, message, 401 if answer.status == 401 else 422)
    old = await get_session(request)
    carried = {key: old[key] for key in CARRIED if key in old}
    await request.app[SESSIONS].forget(old)
    session: Session = await new_session(request)
    session.update(carried)
    body = answer.body
    session[STAFF] = {
        "token": body["access_token"],
        "subject": username,
        "role": body["role"],
        "agency": body.get("agency"),
        "expires": time.time() + int(body.get("expires_in", 900)) - 10,  # a little early: no call fails mid-form
        "since": time.time(),
    }
    raise web.HTTPSeeOther(target or _home_of(str(body["role"])))


async def _refused(request: web.Request, username: str, target: str, message: str, status: int) -> web.Response:
    return await render(request, "console/login.html", status=status, next=target, username=username, error=message)


async def logout(request: web.Request) -> web.Response:
    await end_session(request)
    raise web.HTTPSeeOther(LOGIN_PATH)
