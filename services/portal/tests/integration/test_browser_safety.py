"""What every browser answer of the portal carries, and the CSRF check of every form post."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

Client = TestClient[Any, Any]


async def test_pages_forbid_framing_foreign_scripts_and_caching(portal: Client) -> None:
    resp = await portal.get("/")

    assert resp.status == 200
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "Gửi phản ánh" in await resp.text()


async def test_static_files_are_cacheable_and_local(portal: Client) -> None:
    page = await (await portal.get("/")).text()
    [css] = re.findall(r'href="(/static/portal\.css[^"]*)"', page)

    resp = await portal.get(css)

    assert resp.status == 200
    assert "no-store" not in resp.headers.get("Cache-Control", "")
    assert "http://" not in page.replace("http://127.0.0.1", "")  # no CDN, font or tile server


async def test_a_post_without_the_sessions_token_is_refused(portal: Client) -> None:
    """No session, a stranger's token, or none at all: 403 before any handler runs."""
    await portal.get("/")  # a session exists, with its token

    none = await portal.post("/dang-xuat", data={})
    forged = await portal.post("/dang-xuat", data={"csrf_token": "not-the-sessions"})

    assert none.status == 403
    assert forged.status == 403
    assert forged.content_type == "text/html"  # a page the person can read, not an API's JSON
    assert "Biểu mẫu đã hết hạn" in await forged.text()


async def test_the_session_cookie_is_httponly_and_samesite(portal: Client) -> None:
    resp = await portal.get("/")

    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    session_id = resp.cookies["paht_session"].value
    assert len(session_id) >= 40
