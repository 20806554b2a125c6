"""Browser tests: Playwright drives Debian's Chromium (`make browser` installs it) against the running portal.

Screenshots of each main page, at a phone's size and a desktop's, are written to `.infra/artifacts/screenshots/`
(`shoot`): CI keeps them as artifacts.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, ViewportSize, async_playwright

PHONE = ViewportSize(width=390, height=844)
DESKTOP = ViewportSize(width=1280, height=800)
SCREENSHOTS = Path(__file__).resolve().parents[3] / ".infra" / "artifacts" / "screenshots"


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise RuntimeError("Chromium is not installed: `make browser` installs Debian's package")
    return found


@pytest.fixture
def portal_url(platform: dict[str, Any]) -> str:
    return f"http://127.0.0.1:{platform['http_ports']['portal']}"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        # --no-sandbox: CI runs as root in a container, where Chromium's sandbox cannot start
        launched = await playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield launched
        await launched.close()


@pytest.fixture
async def phone_page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh browser profile at a phone's size, in Vietnamese."""
    context = await browser.new_context(viewport=PHONE, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
    page = await context.new_page()
    yield page
    await context.close()


@pytest.fixture
async def desktop_page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh browser profile at a desktop's size (staff consoles are used on office computers)."""
    context = await browser.new_context(viewport=DESKTOP, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
    page = await context.new_page()
    yield page
    await context.close()


@pytest.fixture
def shoot() -> Callable[[Page, str], Awaitable[None]]:
    """shoot(page, name): the page as it is now, at a phone's and a desktop's size (whole page)."""

    async def take(page: Page, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        size = page.viewport_size
        for label, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            await page.set_viewport_size(viewport)
            await page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
        if size is not None:
            await page.set_viewport_size(size)

    return take
