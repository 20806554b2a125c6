"""Pages from Jinja2 templates (autoescaped), with what every page needs: the CSRF token and who is logged in."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp_session import get_session
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from portal.app_keys import TEMPLATES
from portal.csrf import csrf_token

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def vn_time(value: str | datetime | None, pattern: str = "%H:%M %d/%m/%Y") -> str:
    """An API timestamp in Vietnam's time, as people here write it."""
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(VIETNAM).strftime(pattern)


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("portal", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["vn_time"] = vn_time
    return env


async def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    session = await get_session(request)
    staff = session.get("staff")
    page = (
        request.app[TEMPLATES]
        .get_template(template)
        .render(
            request=request,
            csrf_token=await csrf_token(request),
            # who is logged in, for the header: never the token itself
            staff={k: staff[k] for k in ("subject", "role", "agency")} if isinstance(staff, dict) else None,
            **context,
        )
    )
    return web.Response(text=page, status=status, content_type="text/html", charset="utf-8")
