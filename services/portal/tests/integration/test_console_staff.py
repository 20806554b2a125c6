"""The staff consoles in-process against the running intake, routing and media: real accounts logging in
through routing, the session that holds their token, who may open what, and the consoles' forms."""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
import uuid
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from portal.app import build_app
from portal.app_keys import SESSIONS
from portal.config import Settings

from paht_shared.auth import Role, mint_token
from paht_shared.runtime import DB_POOL

Client = TestClient[Any, Any]
PASSWORD = "mat-khau-thu-nghiem-2026"  # noqa: S105 - a test account's password on the development stack


@pytest.fixture
async def portal(live_settings: Settings) -> AsyncIterator[Client]:
    """The portal in-process, against the running intake, routing and media."""
    async with TestClient(TestServer(build_app(live_settings))) as client:
        yield client


@pytest.fixture
def mint(infra_dir: Path) -> Callable[..., str]:
    key = json.loads((infra_dir / "secrets.json").read_text())["auth_signing_key"]
    return lambda role, agency=None: mint_token(key, f"portal-test-{role.value}", role, agency)


@pytest.fixture
def routing(live_settings: Settings) -> str:
    return live_settings.routing_url


@pytest.fixture
def account(routing: str, mint: Callable[..., str]) -> Callable[..., Awaitable[str]]:
    """account(username, role, agency): the account exists with PASSWORD (created, or reset and unlocked)."""
    admin = {"Authorization": f"Bearer {mint(Role.ADMIN)}"}

    async def ensure(username: str, role: str, agency: str | None = None) -> str:
        async with aiohttp.ClientSession(headers=admin) as http:
            async with http.get(f"{routing}/api/v1/admin/staff") as resp:
                found = [a for a in await resp.json() if a["username"] == username]
            body = {"display_name": "Cán bộ thử nghiệm", "role": role, "agency_code": agency, "password": PASSWORD}
            if found:
                patch = body | {"disabled": False}
                async with http.patch(f"{routing}/api/v1/admin/staff/{found[0]['id']}", json=patch) as resp:
                    assert resp.status == 200, await resp.text()
            else:
                async with http.post(f"{routing}/api/v1/admin/staff", json=body | {"username": username}) as resp:
                    assert resp.status == 201, await resp.text()
        return username

    return ensure


async def csrf(portal: Client, path: str) -> str:
    page = await (await portal.get(path)).text()
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


async def log_in(
    portal: Client, username: str, password: str = PASSWORD, next_path: str = ""
) -> aiohttp.ClientResponse:
    token = await csrf(portal, "/dang-nhap")
    form = {"csrf_token": token, "username": username, "password": password, "next": next_path}
    return await portal.post("/dang-nhap", data=form, allow_redirects=False)


def wav_recording(seconds: float = 1.0) -> bytes:
    """A real (silent) WAV call recording."""
    out = io.BytesIO()
    with wave.open(out, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(8000)
        sound.writeframes(b"\x00\x00" * int(8000 * seconds))
    return out.getvalue()


async def routed_report(intake: str, routing: str, mint: Callable[..., str], category: str) -> dict[str, Any]:
    """A hotline report, once routing holds it (its assignment as a coordinator sees it)."""
    body = {
        "reporter": {"full_name": "Trần Thị Bích", "phone": "0912345670"},
        "title": "Cây đổ chắn ngang đường",
        "category": category,
        "content": "Cây xanh bị đổ sau mưa lớn, chắn ngang một nửa mặt đường, xe qua lại rất nguy hiểm.",
        "location": {"ward_code": "31135", "address_text": "Đường Hai Bà Trưng"},
        "consent": {"use_personal_data": True, "publish": False},
    }
    operator = {"Authorization": f"Bearer {mint(Role.OPERATOR)}", "Idempotency-Key": str(uuid.uuid4())}
    coordinator = {"Authorization": f"Bearer {mint(Role.COORDINATOR)}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{intake}/api/v1/operator/reports", json=body, headers=operator) as resp:
            assert resp.status == 201, await resp.text()
            report_id = (await resp.json())["id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            async with http.get(f"{routing}/api/v1/work/reports/{report_id}", headers=coordinator) as resp:
                if resp.status == 200:
                    found: dict[str, Any] = await resp.json()
                    return found
            await asyncio.sleep(0.5)
    raise AssertionError("routing never assigned the report")


async def session_rows(portal: Client) -> list[dict[str, Any]]:
    """The stored sessions: `data` is aiohttp-session's {"created", "session": {…}}."""
    rows = await portal.app[DB_POOL].fetch("SELECT id_hash, data FROM sessions")
    storage = portal.app[SESSIONS]
    return [{"id_hash": r["id_hash"], "data": storage.open_row(r["id_hash"], r["data"])} for r in rows]


async def store_row(portal: Client, row: dict[str, Any]) -> None:
    """Write back a session changed by the test (as if time had passed), sealed like the portal seals it."""
    sealed = portal.app[SESSIONS].seal_row(row["id_hash"], row["data"])
    await portal.app[DB_POOL].execute("UPDATE sessions SET data = $1 WHERE id_hash = $2", sealed, row["id_hash"])


async def staff_rows(portal: Client) -> list[dict[str, Any]]:
    return [r for r in await session_rows(portal) if "staff" in (r["data"].get("session") or {})]


# --- login and the session --------------------------------------------------------------------------------


async def test_login_starts_a_new_session_holding_the_token_and_logout_ends_it(
    portal: Client, account: Callable[..., Awaitable[str]]
) -> None:
    """The cookie from before the login is worth nothing after it (no fixation); the token never reaches the
    browser; after logout the old cookie opens nothing."""
    username = await account("portal.test.dieuphoi", "coordinator")
    await portal.get("/dang-nhap")
    before = portal.session.cookie_jar.filter_cookies(portal.make_url("/"))["paht_session"].value

    resp = await log_in(portal, username)

    assert resp.status == 303
    assert resp.headers["Location"] == "/co-quan"
    after = resp.cookies["paht_session"].value
    assert after != before
    assert "eyJ" not in str(resp.headers)  # no JWT in any header the browser gets
    [stored] = await staff_rows(portal)
    assert stored["data"]["session"]["staff"]["role"] == "coordinator"
    assert stored["data"]["session"]["staff"]["token"].count(".") == 2

    page = await portal.get("/co-quan")
    assert page.status == 200
    assert "Hàng đợi xử lý" in await page.text()
    assert "eyJ" not in await page.text()

    token = await csrf(portal, "/co-quan")
    out = await portal.post("/dang-xuat", data={"csrf_token": token}, allow_redirects=False)
    assert out.status == 303
    portal.session.cookie_jar.clear()
    for old in (before, after):
        again = await portal.get("/co-quan", headers={"Cookie": f"paht_session={old}"}, allow_redirects=False)
        assert again.status == 303
        assert again.headers["Location"].startswith("/dang-nhap")
    assert not await staff_rows(portal)


async def test_a_wrong_password_is_refused_in_vietnamese(
    portal: Client, account: Callable[..., Awaitable[str]]
) -> None:
    username = await account("portal.test.sai", "operator")

    resp = await log_in(portal, username, password="khong-dung-mat-khau")  # noqa: S106 - a wrong one on purpose

    assert resp.status == 401
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in await resp.text()
    assert 'value="portal.test.sai"' in await resp.text()  # the username is kept, the password is not
    assert "khong-dung-mat-khau" not in await resp.text()


async def test_a_locked_account_is_told_when_to_try_again(
    portal: Client, account: Callable[..., Awaitable[str]]
) -> None:
    username = await account("portal.test.khoa", "operator")
    answers = [await log_in(portal, username, password=f"sai-mat-khau-{n}") for n in range(6)]

    assert answers[-1].status == 429
    assert "Tài khoản tạm khóa" in await answers[-1].text()
    await account(username, "operator")  # a new password lifts the lock (leaves the account usable)


async def test_the_login_returns_to_a_local_page_only(portal: Client, account: Callable[..., Awaitable[str]]) -> None:
    username = await account("portal.test.dieuphoi", "coordinator")
    first = await portal.get("/co-quan/tai-xu-ly", allow_redirects=False)
    assert first.headers["Location"] == "/dang-nhap?next=/co-quan/tai-xu-ly"

    away = await log_in(portal, username, next_path="//evil.example/x")
    assert away.headers["Location"] == "/co-quan"
    back = await log_in(portal, username, next_path="/co-quan/tai-xu-ly")
    assert back.headers["Location"] == "/co-quan/tai-xu-ly"


async def test_an_expired_or_refused_token_ends_the_session(
    portal: Client, account: Callable[..., Awaitable[str]]
) -> None:
    """Past its expiry the session ends before any call; a token a service refuses (401) ends it too."""
    username = await account("portal.test.dieuphoi", "coordinator")
    await log_in(portal, username)
    [row] = await staff_rows(portal)
    row["data"]["session"]["staff"]["token"] = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"  # noqa: S105 - forged
    await store_row(portal, row)

    refused = await portal.get("/co-quan", allow_redirects=False)

    assert refused.status == 303
    assert refused.headers["Location"] == "/dang-nhap?next=/co-quan"
    assert not await staff_rows(portal)

    await log_in(portal, username)
    [row] = await staff_rows(portal)
    row["data"]["session"]["staff"]["expires"] = time.time() - 1
    await store_row(portal, row)

    expired = await portal.get("/co-quan/dieu-phoi", allow_redirects=False)

    assert expired.status == 303
    assert expired.headers["Location"] == "/dang-nhap?next=/co-quan/dieu-phoi"
    assert not await staff_rows(portal)


async def test_a_token_near_its_end_is_renewed_until_the_working_day_is_over(
    portal: Client, account: Callable[..., Awaitable[str]]
) -> None:
    """A minute left: routing renews the token and the page opens (a day at the console outlives one token);
    a login older than PORTAL_SESSION_HOURS is not renewed: log in again."""
    username = await account("portal.test.dieuphoi", "coordinator")
    await log_in(portal, username)
    [row] = await staff_rows(portal)
    before = row["data"]["session"]["staff"]
    row["data"]["session"]["staff"]["expires"] = time.time() + 60
    await store_row(portal, row)

    renewed = await portal.get("/co-quan/dieu-phoi", allow_redirects=False)

    assert renewed.status == 200
    [row] = await staff_rows(portal)
    after = row["data"]["session"]["staff"]
    assert after["token"] != before["token"]
    assert after["expires"] > time.time() + 300
    assert after["since"] == before["since"]  # renewals never extend the working day

    row["data"]["session"]["staff"] |= {"expires": time.time() + 60, "since": time.time() - 9 * 3600}
    await store_row(portal, row)

    over = await portal.get("/co-quan/dieu-phoi", allow_redirects=False)

    assert over.status == 303
    assert over.headers["Location"] == "/dang-nhap?next=/co-quan/dieu-phoi"


async def test_a_form_without_the_csrf_token_is_refused(portal: Client, account: Callable[..., Awaitable[str]]) -> None:
    username = await account("portal.test.dieuphoi", "coordinator")
    await portal.get("/dang-nhap")

    login = await portal.post("/dang-nhap", data={"username": username, "password": PASSWORD})
    assert login.status == 403
    await log_in(portal, username)
    out = await portal.post("/dang-xuat", data={}, allow_redirects=False)
    assert out.status == 403
    assert (await portal.get("/co-quan", allow_redirects=False)).status == 200  # still logged in


# --- who may open what --------------------------------------------------------------------------------


async def test_an_officer_cannot_open_the_operator_console_nor_the_coordinators_views(
    portal: Client, account: Callable[..., Awaitable[str]]
) -> None:
    username = await account("portal.test.canbo", "officer", "SCT")
    await log_in(portal, username)

    for path in ("/tong-dai", "/tong-dai/tra-cuu", "/co-quan/dieu-phoi", "/co-quan/tai-xu-ly"):
        resp = await portal.get(path)
        assert resp.status == 403, path
        assert "Không có quyền truy cập" in await resp.text()
    assert (await portal.get("/co-quan")).status == 200


async def test_an_operator_cannot_open_the_agency_console(
    portal: Client, account: Callable[..., Awaitable[str]]
) -> None:
    username = await account("portal.test.tongdai", "operator")
    resp = await log_in(portal, username)
    assert resp.headers["Location"] == "/tong-dai"

    assert (await portal.get("/co-quan")).status == 403
    assert (await portal.get("/tong-dai")).status == 200


async def test_an_officer_sees_their_agencys_report_acts_on_it_and_never_another_agencys(
    portal: Client,
    live_settings: Settings,
    account: Callable[..., Awaitable[str]],
    mint: Callable[..., str],
) -> None:
    """Accept through the portal (303 and a message), a second accept is routing's 409 in Vietnamese, a short
    answer is the rule next to the form with the text kept; another agency's officer gets the 404 page."""
    report = await routed_report(live_settings.intake_url, live_settings.routing_url, mint, "cay-xanh")
    ours = await account("portal.test.chutri", "officer", report["agency_code"])
    other_agency = next(
        a for a in ("SCT", "SYT", "SGDDT") if a != report["agency_code"] and a not in report["co_agencies"]
    )
    theirs = await account("portal.test.khac", "officer", other_agency)
    detail = f"/co-quan/phan-anh/{report['report_id']}"

    await log_in(portal, theirs)
    assert (await portal.get(detail)).status == 404
    token = await csrf(portal, "/co-quan")
    refused = await portal.post(detail + "/tiep-nhan", data={"csrf_token": token})
    assert refused.status == 404

    await log_in(portal, ours)
    page = await portal.get(detail)
    assert page.status == 200
    assert "Cây đổ chắn ngang đường" in await page.text()
    token = await csrf(portal, detail)

    accepted = await portal.post(detail + "/tiep-nhan", data={"csrf_token": token}, allow_redirects=False)
    assert accepted.status == 303
    assert accepted.headers["Location"] == detail
    shown = await (await portal.get(detail)).text()
    assert "Đã tiếp nhận xử lý phản ánh." in shown
    assert "Đang xử lý" in shown

    again = await portal.post(detail + "/tiep-nhan", data={"csrf_token": token})
    assert again.status == 409
    assert "Phản ánh đã được tiếp nhận xử lý." in await again.text()

    short = await portal.post(detail + "/tra-loi", data={"csrf_token": token, "answer": "Đã xử lý."})
    assert short.status == 422
    text = await short.text()
    assert "Nội dung trả lời cần từ 20 đến 10.000 ký tự." in text
    assert ">Đã xử lý.</textarea>" in text

    answer = aiohttp.FormData()
    answer.add_field("csrf_token", token)
    answer.add_field("answer", "Đã cử đội cây xanh cắt dọn cây đổ, đường thông suốt từ 9 giờ sáng.")
    answer.add_field("files", wav_recording(), filename="bien-ban.wav", content_type="audio/wav")
    answered = await portal.post(detail + "/tra-loi", data=answer, allow_redirects=False)
    assert answered.status == 303, await answered.text()
    shown = await (await portal.get(detail)).text()
    assert "Đã gửi câu trả lời cho người phản ánh." in shown
    assert "Đã cử đội cây xanh cắt dọn cây đổ" in shown
    coordinator = {"Authorization": f"Bearer {mint(Role.COORDINATOR)}"}
    async with aiohttp.ClientSession(headers=coordinator) as http:
        url = f"{live_settings.routing_url}/api/v1/work/reports/{report['report_id']}"
        async with http.get(url) as resp:
            assert len((await resp.json())["answer_media_ids"]) == 1


async def test_a_coordinator_sees_triage_overdue_and_load(
    portal: Client, account: Callable[..., Awaitable[str]]
) -> None:
    username = await account("portal.test.dieuphoi", "coordinator")
    await log_in(portal, username)

    triage = await portal.get("/co-quan/dieu-phoi")
    overdue = await portal.get("/co-quan/qua-han")
    load = await portal.get("/co-quan/tai-xu-ly")

    assert triage.status == overdue.status == load.status == 200
    assert "Phân loại" in await triage.text()
    assert "Phản ánh quá hạn" in await overdue.text()
    assert "Tình hình xử lý của các cơ quan" in await load.text()


# --- the operator console ------------------------------------------------------------------------------


async def test_a_refused_call_form_keeps_every_value_and_names_each_problem(
    portal: Client, account: Callable[..., Awaitable[str]]
) -> None:
    username = await account("portal.test.tongdai", "operator")
    await log_in(portal, username)
    token = await csrf(portal, "/tong-dai")
    form = {
        "csrf_token": token,
        "idempotency_key": str(uuid.uuid4()),
        "caller_name": "Lê Văn Tám",
        "caller_phone": "12345",
        "title": "Ngập",
        "category": "thoat-nuoc-ngap",
        "content": "Nước ngập sâu trên đường Trần Hưng Đạo sau cơn mưa chiều nay.",
        "ward_code": "31135",
        "emergency": "1",
    }

    resp = await portal.post("/tong-dai", data=form)

    assert resp.status == 422
    page = await resp.text()
    assert re.search(r'id="caller_phone-error"[^>]*>[^<]+<', page)
    assert re.search(r'id="title-error"[^>]*>[^<]+<', page)
    assert 'value="Lê Văn Tám"' in page
    assert f'value="{form["idempotency_key"]}"' in page
    assert re.search(r'id="emergency"[^>]*checked', page)
    assert '<option value="31135" selected' in page


async def test_a_call_typed_while_the_token_expired_is_there_after_the_login(
    portal: Client, account: Callable[..., Awaitable[str]]
) -> None:
    """The token lives 15 minutes, a call may last longer: the form comes back after the login, same key."""
    username = await account("portal.test.tongdai", "operator")
    await log_in(portal, username)
    token = await csrf(portal, "/tong-dai")
    [row] = await staff_rows(portal)
    row["data"]["session"]["staff"]["expires"] = time.time() - 1
    await store_row(portal, row)
    key = str(uuid.uuid4())
    form = {"csrf_token": token, "idempotency_key": key, "title": "Đèn tín hiệu giao thông bị hỏng", "emergency": "1"}

    sent = await portal.post("/tong-dai", data=form, allow_redirects=False)

    assert sent.status == 303
    assert sent.headers["Location"] == "/dang-nhap?next=/tong-dai"
    back = await log_in(portal, username, next_path="/tong-dai")
    assert back.headers["Location"] == "/tong-dai"
    page = await (await portal.get("/tong-dai")).text()
    assert 'value="Đèn tín hiệu giao thông bị hỏng"' in page
    assert f'value="{key}"' in page
    assert re.search(r'id="emergency"[^>]*checked', page)
    again = await (await portal.get("/tong-dai")).text()
    assert "Đèn tín hiệu giao thông bị hỏng" not in again  # shown once: the next call starts empty


async def test_a_call_with_its_recording_gets_a_receipt_and_the_caller_is_found(
    portal: Client, account: Callable[..., Awaitable[str]]
) -> None:
    username = await account("portal.test.tongdai", "operator")
    await log_in(portal, username)
    token = await csrf(portal, "/tong-dai")
    phone = "0913" + str(uuid.uuid4().int)[:6]
    form = aiohttp.FormData()
    for name, value in {
        "csrf_token": token,
        "idempotency_key": str(uuid.uuid4()),
        "caller_name": "Lê Văn Tám",
        "caller_phone": phone,
        "title": "Nước ngập sâu trên đường",
        "category": "thoat-nuoc-ngap",
        "content": "Nước ngập sâu trên đường Trần Hưng Đạo sau cơn mưa chiều nay, xe máy chết máy hàng loạt.",
        "ward_code": "31135",
        "emergency": "1",
        "consent_use": "1",
    }.items():
        form.add_field(name, value)
    form.add_field("recording", wav_recording(), filename="cuoc-goi.wav", content_type="audio/wav")

    resp = await portal.post("/tong-dai", data=form)

    assert resp.status == 200, await resp.text()
    page = await resp.text()
    code = re.search(r'id="tracking-code">([^<]+)<', page)
    assert code
    assert re.search(r'id="tracking-secret">[^<]{10,}<', page)
    assert "Khẩn cấp" in page

    token = await csrf(portal, "/tong-dai/tra-cuu")
    found = await portal.post(
        "/tong-dai/tra-cuu", data={"csrf_token": token, "phone": phone, "reason": "Người gọi hỏi lại phản ánh cũ"}
    )
    assert found.status == 200
    assert code.group(1) in await found.text()
    assert phone not in str(found.url)


async def test_a_coordinator_reassigns_a_report_from_the_triage_form(
    portal: Client, live_settings: Settings, account: Callable[..., Awaitable[str]], mint: Callable[..., str]
) -> None:
    """A reason too short is said on the page the form was on; a good one moves the report to the new lead."""
    report = await routed_report(live_settings.intake_url, live_settings.routing_url, mint, "cay-xanh")
    target = next(a for a in ("SCT", "SYT") if a != report["agency_code"])
    await log_in(portal, await account("portal.test.dieuphoi", "coordinator"))
    token = await csrf(portal, "/co-quan/dieu-phoi")
    path = f"/co-quan/phan-anh/{report['report_id']}/dieu-chuyen"

    short = await portal.post(
        path, data={"csrf_token": token, "agency_code": target, "reason": "ngắn", "back": "/co-quan/dieu-phoi"}
    )
    assert "Lý do điều chuyển cần từ 10 đến 1.000 ký tự." in await short.text()
    moved = await portal.post(
        path,
        data={"csrf_token": token, "agency_code": target, "reason": "Thuộc thẩm quyền cơ quan khác", "back": "//x"},
        allow_redirects=False,
    )
    assert moved.status == 303
    assert moved.headers["Location"] == "/co-quan/dieu-phoi"  # never a foreign "back"
    detail = await (await portal.get(f"/co-quan/phan-anh/{report['report_id']}")).text()
    assert f"<dd>{target}" in detail
