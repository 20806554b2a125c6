"""What every browser answer of the portal carries, and the CSRF check of every form post."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient
from portal.app_keys import SESSIONS

from paht_shared.runtime import DB_POOL

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


async def test_sessions_are_ciphertext_at_rest(portal: Client) -> None:
    """What a session holds (here its CSRF token; elsewhere a staff token or a caller's name) is not readable
    in the database: the row is AES-GCM ciphertext bound to the session's id."""
    page = await (await portal.get("/tra-cuu")).text()
    [token] = re.findall(r'name="csrf_token" value="([^"]+)"', page)

    [row] = await portal.app[DB_POOL].fetch("SELECT id_hash, data FROM sessions")

    assert token.encode() not in bytes(row["data"])
    assert b"csrf" not in bytes(row["data"])
    assert portal.app[SESSIONS].open_row(row["id_hash"], row["data"])["session"]["csrf_token"] == token
