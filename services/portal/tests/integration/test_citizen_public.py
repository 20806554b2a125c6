"""Public reports, their map and the statistics through the portal, against the running intake (8081);
and the geometry of the server-drawn pictures."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from html import unescape
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from portal.app import build_app
from portal.charts import Box, bar_chart, report_map
from portal.config import Settings

from paht_shared.testing import pii

Client = TestClient[Any, Any]


@pytest.fixture
async def live(live_settings: Settings) -> AsyncIterator[Client]:
    async with TestClient(TestServer(build_app(live_settings))) as client:
        yield client


@pytest.fixture
async def public_report(live_settings: Settings) -> str:
    """A public report in Phường Sóc Trăng, sent to the running intake (a fresh platform has none)."""
    caller = 9_000_000 + secrets.randbelow(900_000)
    body = pii.sample_report(ward_code="31507", caller=caller)
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{live_settings.intake_url}/api/v1/reports", json=body, headers=pii.caller_headers(caller)) as resp,
    ):
        assert resp.status == 201, await resp.text()
        return str((await resp.json())["tracking_code"])


async def test_the_public_list_links_each_report_and_keeps_filters_in_its_pages(
    live: Client, public_report: str
) -> None:
    resp = await live.get("/phan-anh?ward_code=31507")

    assert resp.status == 200
    page = unescape(await resp.text())
    codes = re.findall(r'<a href="/phan-anh/([A-Z0-9-]+)"><strong>', page)
    assert public_report in codes
    assert '<option value="31507" selected>' in page
    assert 'class="report-map"' in page
    if 'rel="next"' in page:
        assert re.search(r'href="/phan-anh\?ward_code=31507&amp;page=2" rel="next"', await resp.text())
    detail = await live.get(f"/phan-anh/{codes[0]}")
    assert detail.status == 200
    assert "Quá trình xử lý" in await detail.text()


async def test_a_filter_intake_refuses_is_said_not_a_crash(live: Client) -> None:
    resp = await live.get("/phan-anh?status=khong-co")

    assert resp.status == 422
    assert 'role="alert"' in await resp.text()


async def test_an_unknown_or_private_code_is_a_404_page(live: Client) -> None:
    resp = await live.get("/phan-anh/ZZZZZZZZ")

    assert resp.status == 404
    assert "Không tìm thấy phản ánh" in await resp.text()


async def test_the_map_page_draws_points_as_links(live: Client) -> None:
    resp = await live.get("/phan-anh/ban-do")

    assert resp.status == 200
    page = await resp.text()
    assert "<svg" in page
    assert "Ninh Kiều" in page  # a landmark to read the map by


async def test_statistics_as_bar_charts_and_tables(live: Client) -> None:
    resp = await live.get("/thong-ke")

    assert resp.status == 200
    page = unescape(await resp.text())
    assert page.count('<svg class="chart"') == 4  # category, ward, status, month
    for table in ("bang-category", "bang-ward", "bang-status", "bang-month"):
        assert f'<table id="{table}">' in page
    assert re.search(r'id="ti-le-dung-han">(\d+\.\d%|—)<', page)
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_bars_are_proportional_and_never_wider_than_the_chart() -> None:
    chart = bar_chart([("Môi trường", 200), ("Giao thông", 100), ("Khác", 0)], width=460)

    widths = [bar.width for bar in chart.bars]
    assert widths == [400.0, 200.0, 0.0]
    assert chart.height == 3 * 40
    assert all(bar.value_x <= chart.width for bar in chart.bars)


def test_the_map_places_points_in_the_box_north_up_and_counts_the_rest() -> None:
    box = Box.parse("9.15,105.20,10.40,106.35")
    reports: list[dict[str, object]] = [
        {"tracking_code": "NW", "title": "a", "status": "assigned", "lat": 10.40, "lon": 105.20},
        {"tracking_code": "SE", "title": "b", "status": "answered", "lat": 9.15, "lon": 106.35},
        {"tracking_code": "NOPT", "title": "c", "status": "assigned", "lat": None, "lon": None},
        {"tracking_code": "OUT", "title": "d", "status": "assigned", "lat": 21.0, "lon": 105.8},
    ]

    drawn = report_map(box, reports, width=480)

    north_west, south_east = drawn.points
    assert (north_west.x, north_west.y) == (0.0, 0.0)
    assert (south_east.x, south_east.y) == (480.0, drawn.height)
    assert drawn.without_point == 2
    assert 500 < drawn.height < 540  # 1.25° of latitude against 1.15° of longitude at ~10° N
