"""The whole answer loop in real browsers: a citizen sends a report with a photo on the portal and gets its
tracking code; the report shows up in the agency console of the agency it was routed to; the officer accepts
and answers it; the citizen sees the answer on the tracking page and rates it; the rating reaches routing,
which closes the report.

Two browser profiles side by side (a phone for the citizen, a desktop for the officer), the running platform
between them: every step crosses the portal, intake, Kafka, routing and back.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image
from playwright.async_api import Page, expect

from paht_shared.auth import Role
from paht_shared.testing import pii

from .test_console_staff import PASSWORD, log_in

pytestmark = pytest.mark.e2e
Shoot = Callable[[Page, str], Awaitable[None]]
TITLE = "Quán nhậu lấn chiếm vỉa hè trước trường học"
ANSWER = "Đội trật tự đô thị đã lập biên bản, quán đã dọn bàn ghế khỏi vỉa hè và cam kết không tái phạm."
CATEGORY = "lan-chiem-via-he"
WARD = "31507"


async def routed_agency(intake: str, code: str, secret: str) -> str:
    """The agency routing gave the report, as the citizen's tracking API says once the assignment arrived."""
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            async with http.get(f"{intake}/api/v1/reports/{code}", headers={"X-Tracking-Secret": secret}) as resp:
                tracked = await resp.json()
            if tracked.get("agency"):
                return str(tracked["agency"]["code"])
            await asyncio.sleep(0.5)
    raise AssertionError("the report was never assigned")


async def officer_of(routing: str, admin_token: str, agency: str) -> str:
    """An officer account of `agency` with PASSWORD (created once, reset and unlocked on every run)."""
    username = f"e2e.canbo.{agency.lower()}"
    body = {"display_name": "Cán bộ thử nghiệm", "role": "officer", "agency_code": agency, "password": PASSWORD}
    async with aiohttp.ClientSession(base_url=routing, headers={"Authorization": f"Bearer {admin_token}"}) as http:
        async with http.get("/api/v1/admin/staff") as resp:
            existing = {a["username"]: a["id"] for a in await resp.json()}
        if username in existing:
            async with http.patch(f"/api/v1/admin/staff/{existing[username]}", json=body | {"disabled": False}) as r:
                assert r.status == 200, await r.text()
        else:
            async with http.post("/api/v1/admin/staff", json=body | {"username": username}) as r:
                assert r.status == 201, await r.text()
    return username


async def until_shown(page: Page, selector: str, what: str, timeout: float = 90) -> None:
    """Reload until `selector` is on the page: the change travels through the broker between two services."""
    deadline = time.monotonic() + timeout
    while not await page.locator(selector).count():
        if time.monotonic() > deadline:
            raise AssertionError(f"never saw {what}")
        await page.wait_for_timeout(700)
        await page.reload()


async def test_a_report_sent_on_the_portal_is_answered_in_the_console_and_rated(
    phone_page: Page,
    desktop_page: Page,
    portal_url: str,
    platform: dict[str, Any],
    staff_token: Callable[..., str],
    tmp_path: Path,
    shoot: Shoot,
) -> None:
    citizen, officer = phone_page, desktop_page
    photo = tmp_path / "via-he.jpg"
    Image.new("RGB", (800, 600), (150, 120, 80)).save(photo, "JPEG", quality=85)

    # the citizen sends the report, with a photo, in the ward and category the test agency's rule covers
    await citizen.goto(portal_url + "/gui-phan-anh")
    await citizen.fill("#reporter-full_name", pii.FULL_NAME)
    await citizen.fill("#reporter-phone", pii.caller_phone(8_200_000 + int(time.time()) % 90_000))
    await citizen.fill("#reporter-cccd", pii.CCCD)
    await citizen.fill("#reporter-address", pii.ADDRESS)
    await citizen.fill("#title", TITLE)
    await citizen.select_option("#category", CATEGORY)
    await citizen.fill("#content", "Quán nhậu bày bàn ghế chiếm hết vỉa hè, học sinh phải đi xuống lòng đường.")
    await citizen.select_option("#location-ward_code", WARD)
    await citizen.fill("#location-address_text", "Trước cổng trường tiểu học")
    await citizen.set_input_files("#anh", str(photo))
    await citizen.wait_for_selector("#tep-da-tai input[name=media]", state="attached")
    await citizen.click("#gui-phan-anh")
    await citizen.wait_for_url(portal_url + "/da-gui")
    code = await citizen.inner_text("#ma-tra-cuu")
    secret = await citizen.inner_text("#ma-bi-mat")
    assert re.fullmatch(r"PA-[A-Z2-9]{8}", code)

    # the officer of the agency it was routed to finds it in the queue and opens it
    ports = platform["http_ports"]
    agency = await routed_agency(f"http://127.0.0.1:{ports['intake']}", code, secret)
    username = await officer_of(f"http://127.0.0.1:{ports['routing']}", staff_token(Role.ADMIN), agency)
    await log_in(officer, portal_url, username)
    await officer.wait_for_url(portal_url + "/co-quan")
    await officer.select_option("select[name=status]", "assigned")
    await officer.select_option("select[name=category]", CATEGORY)
    await officer.get_by_role("button", name="Lọc").click()  # a GET: the reloads below keep the filters
    row = f"table.queue tr:has-text('{code}')"
    await until_shown(officer, row, "the report in the agency's queue")
    await officer.locator(row).get_by_role("link", name=code).click()
    await expect(officer.get_by_role("heading", level=1)).to_contain_text(TITLE)
    await officer.get_by_role("button", name="Tiếp nhận xử lý").click()
    await expect(officer.locator("dd.status")).to_have_text("Đang xử lý")
    await officer.get_by_label("Nội dung trả lời").fill(ANSWER)
    await officer.get_by_role("button", name="Gửi câu trả lời").click()
    await expect(officer.locator("dd.status")).to_have_text("Đã trả lời")

    # the citizen follows the report by code and secret, reads the answer and rates it
    await citizen.goto(portal_url + "/tra-cuu")
    await citizen.fill("#code", code)
    await citizen.fill("#secret", secret)
    await citizen.click("#tra-cuu")
    await citizen.wait_for_selector("#tinh-trang")
    await until_shown(citizen, "#noi-dung-tra-loi", "the agency's answer on the tracking page")
    assert await citizen.inner_text("#noi-dung-tra-loi") == ANSWER
    assert secret not in citizen.url
    await shoot(citizen, "citizen-tracking-answered")
    await citizen.check("#rating-hai_long")
    await citizen.fill("#comment", "Cảm ơn cơ quan đã xử lý nhanh.")
    await citizen.click("#gui-danh-gia")
    await expect(citizen.locator("#thong-bao")).to_be_visible()

    # the rating reaches routing, which closes the report; the tracking page says so
    await until_shown(citizen, "#tinh-trang[data-status=closed]", "the report closed after the rating")
    assert await citizen.locator("#bieu-mau-danh-gia").count() == 0  # rated once, no second form
