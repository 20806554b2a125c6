"""The portal in a real browser: the home page, and the way to the report form."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page

pytestmark = pytest.mark.e2e


async def test_the_home_page_leads_to_the_report_form(
    phone_page: Page, portal_url: str, shoot: Callable[[Page, str], Awaitable[None]]
) -> None:
    errors: list[str] = []
    phone_page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)

    await phone_page.goto(portal_url + "/")
    await shoot(phone_page, "home")

    assert await phone_page.get_by_role("heading", level=1).inner_text() == "Phản ánh hiện trường"
    await phone_page.get_by_role("link", name="Gửi phản ánh").first.click()
    await phone_page.wait_for_url(portal_url + "/gui-phan-anh")
    assert errors == []  # no script error, no refused resource (a CSP violation is logged as an error)
