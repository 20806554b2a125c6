"""The citizen site in a real browser against the running platform: a report with a photo (uploaded by the
page's script, and again with JavaScript turned off), its receipt, the tracking page; intake's error on a
wrong CCCD next to its field with everything else kept; the public list, a public report, the map and the
statistics. Each main page is photographed at a phone's and a desktop's size."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from PIL import Image
from playwright.async_api import Browser, Page, ViewportSize

from paht_shared.testing import pii

pytestmark = pytest.mark.e2e
# A caller number of this run's own: intake limits the reports one phone sends in an hour, and runs repeat.
RUN = secrets.randbelow(1_000_000) * 10
Shoot = Callable[[Page, str], Awaitable[None]]
TITLE = "Ổ gà lớn giữa đường Lê Lợi"
PHONE = ViewportSize(width=390, height=844)


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "o-ga.jpg"
    Image.new("RGB", (800, 600), (120, 110, 90)).save(path, "JPEG", quality=85)
    return path


def console_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on(
        "console",
        lambda message: errors.append(f"{message.text} {message.location['url']}") if message.type == "error" else None,
    )
    page.on(
        "response",
        lambda response: errors.append(f"{response.status} {response.url}") if response.status >= 400 else None,
    )
    return errors


async def fill_report(page: Page, cccd: str, phone: str) -> None:
    await page.fill("#reporter-full_name", pii.FULL_NAME)
    await page.fill("#reporter-phone", phone)
    await page.fill("#reporter-cccd", cccd)
    await page.fill("#reporter-address", pii.ADDRESS)
    await page.fill("#title", TITLE)
    await page.select_option("#category", "giao-thong")
    await page.fill("#content", "Ổ gà lớn giữa đường, đã có xe máy bị ngã vào ban đêm, cần sửa gấp.")
    await page.select_option("#location-ward_code", "31507")
    await page.fill("#location-address_text", "Đoạn trước chợ")
    await page.fill("#location-lat", "9.6031")
    await page.fill("#location-lon", "105.9745")
    await page.check("#public-co")
    await page.check("#consent-publish")


async def test_a_citizen_sends_a_report_with_a_photo_and_follows_it(
    phone_page: Page, portal_url: str, photo: Path, shoot: Shoot
) -> None:
    errors = console_errors(phone_page)
    await phone_page.goto(portal_url + "/gui-phan-anh")
    await fill_report(phone_page, pii.CCCD, pii.caller_phone(8_100_001 + RUN))

    await phone_page.set_input_files("#anh", str(photo))
    await phone_page.wait_for_selector("#tep-da-tai input[name=media]", state="attached")  # uploaded by the script
    assert "đã tải lên" in await phone_page.inner_text("#tep-da-tai")
    await shoot(phone_page, "citizen-form")
    await phone_page.click("#gui-phan-anh")
    await phone_page.wait_for_url(portal_url + "/da-gui")

    code = await phone_page.inner_text("#ma-tra-cuu")
    secret = await phone_page.inner_text("#ma-bi-mat")
    assert code.startswith("PA-")
    assert secret not in phone_page.url
    await shoot(phone_page, "citizen-confirmation")
    await phone_page.reload()
    assert await phone_page.locator("#ma-bi-mat").count() == 0  # shown once

    await phone_page.goto(portal_url + "/tra-cuu")
    await phone_page.fill("#code", code)
    await phone_page.fill("#secret", secret)
    await phone_page.click("#tra-cuu")
    await phone_page.wait_for_selector("#tieu-de")
    assert await phone_page.inner_text("#tieu-de") == TITLE
    assert phone_page.url == portal_url + "/tra-cuu"
    await shoot(phone_page, "citizen-tracking")
    assert errors == []


async def test_without_javascript_the_photo_goes_with_the_form(browser: Browser, portal_url: str, photo: Path) -> None:
    context = await browser.new_context(viewport=PHONE, locale="vi-VN", java_script_enabled=False)
    page = await context.new_page()
    try:
        await page.goto(portal_url + "/gui-phan-anh")
        assert await page.is_hidden("#vi-tri-cua-toi")  # the location button needs the script
        await fill_report(page, pii.CCCD, pii.caller_phone(8_100_002 + RUN))
        await page.set_input_files("#anh", str(photo))
        await page.click("#gui-phan-anh")
        await page.wait_for_url(portal_url + "/da-gui")
        assert (await page.inner_text("#ma-tra-cuu")).startswith("PA-")
    finally:
        await context.close()


async def test_a_wrong_cccd_is_shown_next_to_its_field_and_nothing_typed_is_lost(
    phone_page: Page, portal_url: str, photo: Path, shoot: Shoot
) -> None:
    await phone_page.goto(portal_url + "/gui-phan-anh")
    phone = pii.caller_phone(8_100_003 + RUN)
    await fill_report(phone_page, "123", phone)
    await phone_page.set_input_files("#anh", str(photo))
    await phone_page.wait_for_selector("#tep-da-tai input[name=media]", state="attached")

    await phone_page.click("#gui-phan-anh")
    await phone_page.wait_for_selector("#reporter-cccd-loi")

    assert await phone_page.inner_text("#reporter-cccd-loi") == "Số CCCD phải gồm đúng 12 chữ số."
    cccd = phone_page.locator("#reporter-cccd")
    assert await cccd.get_attribute("aria-invalid") == "true"
    assert "reporter-cccd-loi" in (await cccd.get_attribute("aria-describedby") or "")
    assert await cccd.input_value() == "123"
    assert await phone_page.input_value("#reporter-full_name") == pii.FULL_NAME
    assert await phone_page.input_value("#reporter-phone") == phone
    assert await phone_page.input_value("#title") == TITLE
    assert await phone_page.input_value("#category") == "giao-thong"
    assert await phone_page.input_value("#location-ward_code") == "31507"
    assert await phone_page.input_value("#location-lat") == "9.6031"
    assert await phone_page.is_checked("#public-co")
    assert await phone_page.is_checked("#consent-publish")
    assert await phone_page.locator("#tep-da-tai input[name=media]").count() == 1  # the photo is kept
    await shoot(phone_page, "citizen-form-errors")

    await phone_page.fill("#reporter-cccd", pii.CCCD)
    await phone_page.click("#gui-phan-anh")
    await phone_page.wait_for_url(portal_url + "/da-gui")


async def test_public_reports_their_map_and_the_statistics(phone_page: Page, portal_url: str, shoot: Shoot) -> None:
    errors = console_errors(phone_page)
    await phone_page.goto(portal_url + "/phan-anh")
    assert await phone_page.locator("#danh-sach .report-item").count() > 0
    assert await phone_page.locator(".report-map circle").count() > 0  # public reports carry their map point
    await shoot(phone_page, "citizen-public-list")

    await phone_page.locator("#danh-sach .report-item a").first.click()
    await phone_page.wait_for_selector("#tinh-trang")
    assert "/phan-anh/PA-" in phone_page.url
    await shoot(phone_page, "citizen-public-detail")

    await phone_page.goto(portal_url + "/phan-anh/ban-do")
    assert await phone_page.locator(".report-map circle").count() > 0

    await phone_page.goto(portal_url + "/thong-ke")
    assert await phone_page.locator("svg.chart").count() == 4
    assert int((await phone_page.inner_text("#tong-so")).replace(".", "")) > 0
    await shoot(phone_page, "citizen-stats")
    assert errors == []
