"""The staff consoles in a real browser against the running platform: a hotline operator enters an emergency
call with its recording and finds the caller again by phone; an officer of the agency it was routed to finds
it in the queue, hears the recording, accepts and answers it; a coordinator's triage and load views.

The report is routed to an agency of this test's own (`E2E-CONSOLE`, by an urgent rule for one ward and
category), so the officer's queue holds this test's reports and not the thousands the other tests leave.
"""

from __future__ import annotations

import io
import re
import time
import uuid
import wave
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from playwright.async_api import FilePayload, Page, expect

from paht_shared.auth import Role

pytestmark = pytest.mark.e2e

AGENCY = "E2E-CONSOLE"
CATEGORY = "lan-chiem-via-he"
WARD = "31633"  # Xã Cù Lao Dung
PASSWORD = "mat-khau-e2e-bang-dieu-khien"  # noqa: S105 - test accounts of the development stack
Shoot = Callable[[Page, str], Awaitable[None]]


def wav_recording(seconds: float = 2.0) -> bytes:
    """A real WAV file, as a call-centre system could export it (silence stands in for voices)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(8000)
        sound.writeframes(b"\x00\x01" * int(8000 * seconds))
    return out.getvalue()


@pytest.fixture
async def accounts(platform: dict[str, Any], staff_token: Callable[..., str]) -> dict[str, str]:
    """The test's agency, its urgent rule, and an operator, an officer of the agency and a coordinator, each
    with PASSWORD (created once, reset and unlocked on every run)."""
    routing = f"http://127.0.0.1:{platform['http_ports']['routing']}"
    admin = {"Authorization": f"Bearer {staff_token(Role.ADMIN)}"}
    async with aiohttp.ClientSession(base_url=routing, headers=admin) as http:
        agency = {"code": AGENCY, "name": "Cơ quan thử nghiệm bàn làm việc", "kind": "department"}
        async with http.post("/api/v1/admin/agencies", json=agency) as resp:
            assert resp.status in (201, 409), await resp.text()
        async with http.get("/api/v1/admin/rules", params={"agency": AGENCY}) as resp:
            rules = await resp.json()
        if not any(r.get("ward_code") == WARD and r.get("urgent") and not r.get("valid_to") for r in rules):
            rule = {"category": CATEGORY, "ward_code": WARD, "urgent": True, "agency": AGENCY}
            async with http.post("/api/v1/admin/rules", json=rule) as resp:
                assert resp.status == 201, await resp.text()
        async with http.get("/api/v1/admin/staff") as resp:
            existing = {a["username"]: a["id"] for a in await resp.json()}
        wanted = {
            "operator": ("e2e.tongdai", "operator", None),
            "officer": ("e2e.canbo", "officer", AGENCY),
            "coordinator": ("e2e.dieuphoi", "coordinator", None),
        }
        for username, role, agency_code in wanted.values():
            body = {
                "display_name": "Tài khoản thử nghiệm",
                "role": role,
                "agency_code": agency_code,
                "password": PASSWORD,
            }
            if username in existing:
                async with http.patch(
                    f"/api/v1/admin/staff/{existing[username]}", json=body | {"disabled": False}
                ) as resp:
                    assert resp.status == 200, await resp.text()
            else:
                async with http.post("/api/v1/admin/staff", json=body | {"username": username}) as resp:
                    assert resp.status == 201, await resp.text()
    return {key: username for key, (username, _, _) in wanted.items()}


async def log_in(page: Page, portal_url: str, username: str) -> None:
    await page.goto(portal_url + "/dang-nhap")
    await page.get_by_label("Tên đăng nhập").fill(username)
    await page.get_by_label("Mật khẩu").fill(PASSWORD)
    await page.get_by_role("button", name="Đăng nhập").click()


async def log_out(page: Page) -> None:
    await page.get_by_role("button", name="Đăng xuất").click()
    await page.wait_for_url("**/dang-nhap")


async def test_an_emergency_call_reaches_the_agency_which_answers_it(
    desktop_page: Page, portal_url: str, accounts: dict[str, str], shoot: Shoot
) -> None:
    page = desktop_page
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    phone = "0913" + str(uuid.uuid4().int)[:6]

    # the operator takes the call
    await page.goto(portal_url + "/dang-nhap")
    await shoot(page, "console-login")
    await log_in(page, portal_url, accounts["operator"])
    await page.wait_for_url(portal_url + "/tong-dai")
    await page.locator("#emergency").check()
    await page.get_by_label("Họ và tên").fill("Trần Văn Hùng")
    await page.get_by_label("Số điện thoại").fill(phone)
    await page.locator("#title").fill("Xe tải đổ vật liệu chắn lối đi")
    await page.select_option("#category", CATEGORY)
    await page.locator("#content").fill(
        "Một xe tải đổ cát và đá chiếm hết lòng đường trước chợ, xe cứu thương không đi qua được."
    )
    await page.select_option("#ward_code", WARD)
    await page.get_by_label("Địa chỉ, nơi xảy ra sự việc").fill("Trước chợ Cù Lao Dung")
    await page.get_by_label("Đồng ý cho cơ quan xử lý biết danh tính").check()
    recording = FilePayload(name="cuoc-goi.wav", mimeType="audio/wav", buffer=wav_recording())
    await page.set_input_files("#recording", files=[recording])
    await expect(page.locator("#call-form")).to_have_class("call-form is-emergency")
    await shoot(page, "console-operator")
    await page.get_by_role("button", name="Gửi phản ánh").click()

    code = page.locator("#tracking-code")
    await expect(code).to_have_text(re.compile(r"^PA-[A-Z2-9]{8}$"))
    tracking_code = await code.inner_text()
    await expect(page.locator("#tracking-secret")).not_to_be_empty()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Khẩn cấp")
    await shoot(page, "console-receipt")

    # the caller rings again: their reports, by the phone (posted, never in the URL)
    await page.get_by_role("link", name="Tra cứu người gọi").click()
    await page.get_by_label("Số điện thoại người gọi").fill(phone)
    await page.get_by_label("Lý do tra cứu").fill("Người gọi hỏi tình trạng phản ánh vừa báo")
    await page.get_by_role("button", name="Tra cứu").click()
    await expect(page.locator("table.caller-reports")).to_contain_text(tracking_code)
    assert phone not in page.url
    await shoot(page, "console-caller-lookup")
    await log_out(page)

    # the officer of the agency it was routed to
    await log_in(page, portal_url, accounts["officer"])
    await page.wait_for_url(portal_url + "/co-quan")
    await page.select_option("select[name=status]", "assigned")
    await page.get_by_role("button", name="Lọc").click()
    row = page.locator("table.queue tr", has_text=tracking_code)
    deadline = time.monotonic() + 60
    while not await row.count() and time.monotonic() < deadline:  # routing assigns it through the broker
        await page.wait_for_timeout(500)
        await page.reload()
    await expect(row).to_have_class(re.compile(r"\bemergency\b"))
    await expect(row).to_contain_text("Khẩn cấp")
    await shoot(page, "console-agency-queue")

    await row.get_by_role("link", name=tracking_code).click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Xe tải đổ vật liệu chắn lối đi")
    audio = page.locator("audio")
    deadline = time.monotonic() + 60
    while not await audio.count() and time.monotonic() < deadline:  # the media worker sanitises the recording
        await page.wait_for_timeout(1000)
        await page.reload()
    source = await audio.get_attribute("src")
    assert source is not None
    assert source.startswith("/co-quan/tep/")
    heard = await page.request.get(portal_url + source)
    assert heard.status == 200
    assert heard.headers["content-type"].startswith("audio/")
    await shoot(page, "console-report-detail")

    await page.get_by_role("button", name="Tiếp nhận xử lý").click()
    await expect(page.locator(".flash")).to_have_text("Đã tiếp nhận xử lý phản ánh.")
    await expect(page.locator("dd.status")).to_have_text("Đang xử lý")
    await page.get_by_label("Nội dung trả lời").fill(
        "Đội trật tự đô thị đã yêu cầu chủ xe dọn toàn bộ vật liệu, lối đi đã thông suốt lúc 10 giờ."
    )
    await page.get_by_role("button", name="Gửi câu trả lời").click()
    await expect(page.locator(".flash")).to_have_text("Đã gửi câu trả lời cho người phản ánh.")
    await expect(page.locator("dd.status")).to_have_text("Đã trả lời")
    await log_out(page)

    # the coordinator's views
    await log_in(page, portal_url, accounts["coordinator"])
    await page.goto(portal_url + "/co-quan/dieu-phoi")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Phân loại")
    await shoot(page, "console-triage")
    await page.goto(portal_url + "/co-quan/tai-xu-ly")
    await expect(page.locator("table.load")).to_contain_text(AGENCY)
    await shoot(page, "console-load")

    assert errors == []  # no script error, no refused resource (a CSP violation is logged as an error)
