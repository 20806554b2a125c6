"""The tracking page (/tra-cuu) with a fake intake that answers like intake: the code and secret are posted
once and kept in the session, the page offers what `next_actions` allows, the rating reaches intake with the
secret as a header, a refused action shows intake's message with what was typed, and "Đóng" forgets."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html import unescape
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from portal.app import build_app
from portal.config import Settings

Client = TestClient[Any, Any]
CODE, SECRET = "PA-K7M2Q9XR", "s3cr3t-tracking-value-for-tests"


def tracked(next_actions: list[str]) -> dict[str, Any]:
    return {
        "id": "6d8f0b5e-1111-4a8b-9c55-2f0a9a3e7a10",
        "tracking_code": CODE,
        "title": "Cống thoát nước bị tắc",
        "content": "Cống trước nhà bị tắc nhiều ngày, nước tràn lên mặt đường.",
        "category": {"code": "thoat-nuoc-ngap", "name": "Thoát nước, ngập úng"},
        "ward": {"code": "31507", "name": "Phường Sóc Trăng"},
        "status": "answered",
        "status_label": "Đã trả lời",
        "agency": {"code": "SXD", "name": "Sở Xây dựng"},
        "due_at": "2026-12-10T10:00:00+00:00",
        "submitted_at": "2026-11-20T01:00:00+00:00",
        "received_at": "2026-11-20T01:00:00+00:00",
        "updated_at": "2026-11-25T01:00:00+00:00",
        "public": True,
        "anonymous": False,
        "information_requests": [
            {"question": "Xin cho biết số nhà?", "asked_at": "2026-11-21T01:00:00+00:00", "reply": None,
             "replied_at": None}
        ],
        "answer": {"text": "Đã nạo vét cống ngày 24/11.", "media_ids": [],
                   "agency": {"code": "SXD", "name": "Sở Xây dựng"},
                   "answered_at": "2026-11-25T01:00:00+00:00", "on_time": True},
        "rating": None,
        "next_actions": [{"action": a, "until": "2026-12-25T01:00:00+00:00"} for a in next_actions],
        "timeline": [
            {"status": "submitted", "status_label": "Đã gửi", "actor": "citizen", "agency": None, "note": None,
             "at": "2026-11-20T01:00:00+00:00"},
            {"status": "answered", "status_label": "Đã trả lời", "actor": "agency",
             "agency": {"code": "SXD", "name": "Sở Xây dựng"}, "note": None, "at": "2026-11-25T01:00:00+00:00"},
        ],
        "notifications": {"email": False, "sms": True, "push": False},
    }  # fmt: skip


class FakeIntake:
    def __init__(self) -> None:
        self.actions = ["rate", "reopen"]
        self.posted: list[tuple[str, dict[str, Any], str]] = []
        self.reopen_answer: tuple[int, dict[str, Any]] | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v1/reports/{code}", self.get)
        app.router.add_post("/api/v1/reports/{code}/{action}", self.act)
        return app

    def _authorised(self, request: web.Request) -> bool:
        return request.match_info["code"] == CODE and request.headers.get("X-Tracking-Secret") == SECRET

    async def get(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response(
                {"errors": [{"field": None, "code": "report_not_found", "message": "x"}]}, status=404
            )
        return web.json_response(tracked(self.actions))

    async def act(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response(
                {"errors": [{"field": None, "code": "report_not_found", "message": "x"}]}, status=404
            )
        action = request.match_info["action"]
        self.posted.append((action, await request.json(), request.headers["X-Tracking-Secret"]))
        if action == "reopen" and self.reopen_answer is not None:
            return web.json_response(self.reopen_answer[1], status=self.reopen_answer[0])
        self.actions = []
        return web.json_response(tracked([]))


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeIntake, str]]:
    intake = FakeIntake()
    async with TestServer(intake.app()) as server:
        yield intake, str(server.make_url("")).rstrip("/")


@pytest.fixture
async def portal_client(portal_settings: Settings, fake: tuple[FakeIntake, str]) -> AsyncIterator[Client]:
    async with TestClient(TestServer(build_app(portal_settings.model_copy(update={"intake_url": fake[1]})))) as client:
        yield client


async def csrf(client: Client) -> str:
    page = await (await client.get("/tra-cuu")).text()
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


async def test_a_wrong_secret_says_so_and_keeps_the_code_only(portal_client: Client) -> None:
    token = await csrf(portal_client)

    resp = await portal_client.post("/tra-cuu", data={"csrf_token": token, "code": CODE.lower(), "secret": "wrong"})

    assert resp.status == 404
    page = await resp.text()
    assert "Không tìm thấy phản ánh với mã tra cứu và mã bí mật này" in page
    assert f'value="{CODE}"' in page
    assert "wrong" not in page


async def test_the_report_then_its_rating_without_typing_the_secret_again(
    portal_client: Client, fake: tuple[FakeIntake, str]
) -> None:
    intake, _ = fake
    token = await csrf(portal_client)

    opened = await portal_client.post("/tra-cuu", data={"csrf_token": token, "code": CODE, "secret": SECRET})

    assert opened.status == 200
    assert str(opened.url).endswith("/tra-cuu")  # after a redirect: the secret is in no URL and no history entry
    page = unescape(await opened.text())
    assert SECRET not in page
    assert 'id="noi-dung-tra-loi">Đã nạo vét cống ngày 24/11.<' in page
    assert 'id="bieu-mau-danh-gia"' in page
    assert 'id="rating-khong_hai_long" name="rating" value="khong_hai_long"' in page
    assert 'id="bieu-mau-mo-lai"' in page
    assert 'id="bieu-mau-bo-sung"' not in page  # not offered: intake's next_actions do not include it
    assert "Xin cho biết số nhà?" in page

    rated = await portal_client.post(
        "/tra-cuu/danh-gia", data={"csrf_token": token, "rating": "chap_nhan_duoc", "comment": "Tạm ổn"}
    )

    assert rated.status == 200
    assert intake.posted == [("rating", {"rating": "chap_nhan_duoc", "comment": "Tạm ổn"}, SECRET)]
    after = await rated.text()
    assert "Cảm ơn bạn đã đánh giá" in after
    assert 'id="bieu-mau-danh-gia"' not in after


async def test_a_refused_reopening_shows_intakes_message_next_to_the_reason(
    portal_client: Client, fake: tuple[FakeIntake, str]
) -> None:
    intake, _ = fake
    intake.reopen_answer = (
        422,
        {"errors": [{"field": "reason", "code": "too_short", "message": "Cần ít nhất 10 ký tự."}]},
    )
    token = await csrf(portal_client)
    await portal_client.post("/tra-cuu", data={"csrf_token": token, "code": CODE, "secret": SECRET})

    resp = await portal_client.post("/tra-cuu/mo-lai", data={"csrf_token": token, "reason": "Chưa"})

    assert resp.status == 422
    page = unescape(await resp.text())
    assert 'aria-describedby="reason-loi">Chưa</textarea>' in page
    assert 'id="reason-loi">Cần ít nhất 10 ký tự.<' in page


async def test_closing_forgets_the_report(portal_client: Client) -> None:
    token = await csrf(portal_client)
    await portal_client.post("/tra-cuu", data={"csrf_token": token, "code": CODE, "secret": SECRET})

    closed = await portal_client.post("/tra-cuu/dong", data={"csrf_token": token})

    assert closed.status == 200
    assert 'id="bieu-mau-tra-cuu"' in await closed.text()
    assert (
        await portal_client.post("/tra-cuu/danh-gia", data={"csrf_token": token, "rating": "hai_long"})
    ).status == 200
    assert 'id="bieu-mau-tra-cuu"' in await (await portal_client.get("/tra-cuu")).text()


async def test_a_reply_with_a_photo_sends_it_to_media_then_to_intake_with_its_token(
    portal_settings: Settings, fake: tuple[FakeIntake, str]
) -> None:
    """The asked-for photo goes to media first; intake then gets the reply with `media: [{id, upload_token}]`
    (media keeps it with the report only with that proof)."""
    intake, intake_url = fake
    intake.actions = ["provide_info"]
    uploads: list[str] = []

    async def media_upload(request: web.Request) -> web.Response:
        field = await (await request.multipart()).next()
        assert isinstance(field, aiohttp.BodyPartReader)
        uploads.append(f"{field.filename}:{len(await field.read())}")
        return web.json_response({"id": "0b7f3c1e-2222-4d2a-8a55-5a0f9a3e7a11", "upload_token": "tok-abc"}, status=201)

    media = web.Application()
    media.router.add_post("/api/v1/media", media_upload)
    async with TestServer(media) as media_server:
        settings = portal_settings.model_copy(
            update={"intake_url": intake_url, "media_url": str(media_server.make_url("")).rstrip("/")}
        )
        async with TestClient(TestServer(build_app(settings))) as client:
            token = await csrf(client)
            await client.post("/tra-cuu", data={"csrf_token": token, "code": CODE, "secret": SECRET})
            form = aiohttp.FormData()
            form.add_field("csrf_token", token)
            form.add_field("text", "Ảnh chụp cống bị tắc sáng nay.")
            form.add_field("tep", b"\xff\xd8\xff\xe0 jpeg bytes", filename="cong.jpg", content_type="image/jpeg")

            replied = await client.post("/tra-cuu/bo-sung", data=form)

    assert replied.status == 200
    assert uploads == ["cong.jpg:15"]
    assert intake.posted == [
        (
            "information",
            {
                "text": "Ảnh chụp cống bị tắc sáng nay.",
                "media": [{"id": "0b7f3c1e-2222-4d2a-8a55-5a0f9a3e7a11", "upload_token": "tok-abc"}],
            },
            SECRET,
        )
    ]
