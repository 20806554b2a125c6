"""The "Gửi phản ánh" form through the portal, against the running intake and media (8081, 8082): the pick
lists, a report with a photo posted without JavaScript, the receipt shown once, one report per form however
often it is posted, intake's field errors next to their inputs with every value kept; and, with a fake
intake, what a citizen sees when intake limits or is away."""

from __future__ import annotations

import io
import re
import secrets
from collections.abc import AsyncIterator
from html import unescape
from typing import Any

import pytest
from aiohttp import FormData, web
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image
from portal.app import build_app
from portal.config import Settings

from paht_shared.testing import pii

# A caller number of this run's own: intake limits the reports one phone sends in an hour, and runs repeat.
RUN = secrets.randbelow(1_000_000) * 10
Client = TestClient[Any, Any]


@pytest.fixture
async def live(live_settings: Settings) -> AsyncIterator[Client]:
    """The portal in-process, calling the running intake and media."""
    async with TestClient(TestServer(build_app(live_settings))) as client:
        yield client


async def form_page(client: Client) -> tuple[str, dict[str, str]]:
    """The form's HTML and its hidden fields (csrf_token, idempotency_key)."""
    resp = await client.get("/gui-phan-anh")
    assert resp.status == 200
    page = await resp.text()
    hidden = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', page))
    return page, hidden


def citizen_fields(hidden: dict[str, str], **changes: str) -> dict[str, str]:
    fields = {
        "csrf_token": hidden["csrf_token"],
        "idempotency_key": hidden["idempotency_key"],
        "reporter.full_name": pii.FULL_NAME,
        "reporter.phone": pii.PHONE,
        "reporter.cccd": pii.CCCD,
        "reporter.address": pii.ADDRESS,
        "reporter.email": "",
        "title": "Đèn đường hỏng trước trường học",
        "category": "moi-truong",
        "content": "Đèn đường hỏng cả tuần nay, buổi tối học sinh đi học về rất tối và nguy hiểm.",
        "occurred_at": "2026-01-05T19:30",
        "location.ward_code": "31507",
        "location.address_text": "Trước cổng trường tiểu học",
        "location.lat": "9,6025",
        "location.lon": "105.9739",
        "public": "co",
        "consent.use_personal_data": "co",
        "consent.publish": "co",
    }
    fields.update(changes)
    return fields


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (30, 120, 200)).save(out, "JPEG")
    return out.getvalue()


def multipart(fields: dict[str, str], photo: bytes | None = None) -> FormData:
    data = FormData()
    for name, value in fields.items():
        data.add_field(name, value)
    data.add_field("anh", photo or b"", filename="den-duong.jpg" if photo else "", content_type="image/jpeg")
    data.add_field("video", b"", filename="", content_type="application/octet-stream")  # an input left empty
    return data


def receipt_codes(page: str) -> tuple[str, str | None]:
    code = re.search(r'id="ma-tra-cuu">([A-Z0-9-]+)<', page)
    secret = re.search(r'id="ma-bi-mat">([^<]+)<', page)
    assert code is not None, page
    return code.group(1), secret.group(1) if secret else None


async def test_the_form_offers_categories_by_field_and_the_tenants_wards(live: Client) -> None:
    page, hidden = await form_page(live)

    group = page.index('<optgroup label="Vệ sinh môi trường">')
    assert page.index('<option value="moi-truong">Môi trường (khác)</option>') > group
    assert 'value="31507"' in page  # a ward of Cần Thơ
    assert hidden["csrf_token"]
    assert re.fullmatch(r"[0-9a-f-]{36}", hidden["idempotency_key"])
    order = [page.index(f'name="{n}"') for n in ("reporter.full_name", "reporter.phone", "reporter.cccd")]
    assert order == sorted(order)
    for later in ("reporter.address", "reporter.email", "title", "category", "content", "occurred_at"):
        assert page.index(f'name="{later}"') > order[-1]


async def test_a_report_with_a_photo_without_javascript_gets_a_receipt_shown_once(live: Client) -> None:
    """The photo goes to media, the report to intake with the photo's id and token; the receipt page shows the
    code and the secret once, then only the code; the URL never holds either."""
    _, hidden = await form_page(live)

    resp = await live.post("/gui-phan-anh", data=multipart(citizen_fields(hidden), jpeg()), allow_redirects=False)

    assert resp.status == 303, await resp.text()
    assert resp.headers["Location"] == "/da-gui"
    first = await (await live.get("/da-gui")).text()
    code, secret = receipt_codes(first)
    assert secret is not None
    again = await (await live.get("/da-gui")).text()
    assert receipt_codes(again) == (code, None)
    assert secret not in again
    tracked = await live.post("/tra-cuu", data={"csrf_token": hidden["csrf_token"], "code": code, "secret": secret})
    assert tracked.status == 200
    assert "Đèn đường hỏng trước trường học" in await tracked.text()


async def test_the_same_form_posted_twice_is_one_report(live: Client) -> None:
    """A double click or a refresh sends the same idempotency key: the second post shows the first receipt."""
    _, hidden = await form_page(live)
    fields = citizen_fields(hidden, **{"reporter.phone": pii.caller_phone(7_000_001 + RUN)})

    first = await live.post("/gui-phan-anh", data=fields, allow_redirects=False)
    code, _ = receipt_codes(await (await live.get("/da-gui")).text())
    second = await live.post("/gui-phan-anh", data=fields, allow_redirects=False)

    assert (first.status, second.status) == (303, 303)
    assert receipt_codes(await (await live.get("/da-gui")).text())[0] == code


async def test_the_same_form_with_a_photo_posted_twice_is_one_report(live: Client) -> None:
    """Without the script each post uploads the photo again, so intake sees the key with other files (409):
    the portal shows the first post's receipt instead of an error."""
    _, hidden = await form_page(live)
    fields = citizen_fields(hidden, **{"reporter.phone": pii.caller_phone(7_000_002 + RUN)})

    first = await live.post("/gui-phan-anh", data=multipart(fields, jpeg()), allow_redirects=False)
    second = await live.post("/gui-phan-anh", data=multipart(fields, jpeg()), allow_redirects=False)

    assert (first.status, second.status) == (303, 303)
    code, secret = receipt_codes(await (await live.get("/da-gui")).text())
    assert secret is not None
    tracked = await live.post("/tra-cuu", data={"csrf_token": hidden["csrf_token"], "code": code, "secret": secret})
    assert "Đèn đường hỏng trước trường học" in await tracked.text()


async def test_a_wrong_cccd_is_shown_next_to_its_input_and_every_value_is_kept(live: Client) -> None:
    _, hidden = await form_page(live)
    photo = multipart(citizen_fields(hidden, **{"reporter.cccd": "123", "location.ward_code": ""}), jpeg())

    resp = await live.post("/gui-phan-anh", data=photo)

    assert resp.status == 422
    page = unescape(await resp.text())
    cccd_input = re.search(r'<input type="text" id="reporter-cccd"[^>]*>', page)
    assert cccd_input is not None
    assert 'aria-invalid="true"' in cccd_input.group(0)
    assert 'aria-describedby="reporter-cccd-goi-y reporter-cccd-loi"' in cccd_input.group(0)
    assert 'id="reporter-cccd-loi">Số CCCD phải gồm đúng 12 chữ số.<' in page
    assert 'value="123"' in cccd_input.group(0)
    title, when = "Đèn đường hỏng trước trường học", "2026-01-05T19:30"
    for kept in (pii.FULL_NAME, pii.PHONE, pii.ADDRESS, title, "9,6025", when):
        assert f'value="{kept}"' in page
    assert "Đèn đường hỏng cả tuần nay" in page
    assert '<option value="moi-truong" selected>' in page
    assert 'id="public-co" name="public" value="co" checked' in page
    assert 'name="media" value="' in page  # the photo, uploaded once, is carried as a hidden id
    assert page.count('name="idempotency_key" value="' + hidden["idempotency_key"]) == 1


async def test_a_post_without_the_csrf_token_is_refused(live: Client) -> None:
    _, hidden = await form_page(live)
    fields = citizen_fields(hidden)
    del fields["csrf_token"]

    assert (await live.post("/gui-phan-anh", data=fields)).status == 403


async def test_the_scripts_upload_goes_to_media_and_gives_back_id_and_token(live: Client) -> None:
    _, hidden = await form_page(live)
    data = FormData()
    data.add_field("file", jpeg(), filename="anh.jpg", content_type="image/jpeg")
    refused = FormData()
    refused.add_field("file", b"<svg xmlns='http://www.w3.org/2000/svg'/>", filename="x.svg", content_type="image/svg")

    resp = await live.post("/tai-len", data=data, headers={"X-CSRF-Token": hidden["csrf_token"]})
    bad = await live.post("/tai-len", data=refused, headers={"X-CSRF-Token": hidden["csrf_token"]})
    forged = await live.post("/tai-len", data=jpeg(), headers={"X-CSRF-Token": "not-the-sessions"})

    assert resp.status == 201
    body = await resp.json()
    assert set(body) == {"id", "token", "name"}
    assert bad.status == 415
    assert "Loại tệp không được hỗ trợ" in (await bad.json())["error"]
    assert forged.status == 403


class FakeIntake:
    """Answers the pick lists like intake, and submissions with whatever the test sets."""

    def __init__(self) -> None:
        self.status = 429
        self.headers = {"Retry-After": "120"}
        self.received: list[dict[str, Any]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v1/categories", self.categories)
        app.router.add_get("/api/v1/wards", self.wards)
        app.router.add_post("/api/v1/reports", self.reports)
        return app

    async def categories(self, _request: web.Request) -> web.Response:
        return web.json_response([{"code": "moi-truong", "name": "Ô nhiễm", "field": "moi-truong-do-thi"}])

    async def wards(self, _request: web.Request) -> web.Response:
        return web.json_response([{"code": "31507", "name": "Phường Sóc Trăng"}])

    async def reports(self, request: web.Request) -> web.Response:
        self.received.append({"body": await request.json(), "headers": dict(request.headers)})
        error = {"errors": [{"field": None, "code": "service_unavailable", "message": "Hệ thống bận."}]}
        return web.json_response(error, status=self.status, headers=self.headers)


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeIntake, str]]:
    intake = FakeIntake()
    async with TestServer(intake.app()) as server:
        yield intake, str(server.make_url("")).rstrip("/")


@pytest.fixture
async def faked(portal_settings: Settings, fake: tuple[FakeIntake, str]) -> AsyncIterator[Client]:
    settings = portal_settings.model_copy(update={"intake_url": fake[1]})
    async with TestClient(TestServer(build_app(settings))) as client:
        yield client


async def test_too_many_submissions_says_when_to_try_again_and_keeps_the_values(
    faked: Client, fake: tuple[FakeIntake, str]
) -> None:
    intake, _ = fake
    _, hidden = await form_page(faked)

    resp = await faked.post("/gui-phan-anh", data=citizen_fields(hidden))

    assert resp.status == 429
    page = unescape(await resp.text())
    assert "thử lại sau khoảng 2 phút" in page
    assert f'value="{pii.CCCD}"' in page
    sent = intake.received[0]
    assert sent["headers"]["Idempotency-Key"] == hidden["idempotency_key"]
    assert sent["headers"]["X-Forwarded-For"] == "127.0.0.1"
    body = sent["body"]
    assert body["reporter"]["cccd"] == pii.CCCD
    assert body["reporter"]["email"] is None
    assert body["location"] == {
        "ward_code": "31507",
        "address_text": "Trước cổng trường tiểu học",
        "lat": 9.6025,
        "lon": 105.9739,
    }
    assert (body["public"], body["anonymous"]) == (True, False)
    assert body["consent"] == {"use_personal_data": True, "publish": True}
    assert body["occurred_at"] == "2026-01-05T19:30"


async def test_intake_away_is_a_503_that_keeps_the_values(faked: Client, fake: tuple[FakeIntake, str]) -> None:
    intake, _ = fake
    intake.status, intake.headers = 503, {"Retry-After": "5"}
    _, hidden = await form_page(faked)

    resp = await faked.post("/gui-phan-anh", data=citizen_fields(hidden, title="Cống bị tắc"))

    assert resp.status == 503
    page = unescape(await resp.text())
    assert "Hệ thống tạm thời gián đoạn, phản ánh chưa được gửi" in page
    assert 'value="Cống bị tắc"' in page
    assert f'value="{hidden["idempotency_key"]}"' in page  # the retry is the same report


async def test_coordinates_that_are_not_numbers_are_refused_before_intake(
    faked: Client, fake: tuple[FakeIntake, str]
) -> None:
    intake, _ = fake
    _, hidden = await form_page(faked)

    resp = await faked.post("/gui-phan-anh", data=citizen_fields(hidden, **{"location.lat": "chín phẩy sáu"}))

    assert resp.status == 422
    assert 'id="location-lat-loi">Vui lòng nhập một số' in unescape(await resp.text())
    assert intake.received == []
