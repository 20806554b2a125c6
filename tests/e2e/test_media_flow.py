"""A photo through the running platform: uploaded, sanitised by the media worker off the request path,
attached to a report by the person who uploaded it, and served to the agency only as a clean derivative."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from PIL import Image

from paht_shared.auth import Role
from paht_shared.testing import pii
from paht_shared.testing.kafka import until

pytestmark = pytest.mark.e2e


def photo_with_gps() -> bytes:
    """A real JPEG whose EXIF says where it was taken, as a phone writes it."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (9.0, 36.0, 9.0), "E", (105.0, 58.0, 26.0)
    out = io.BytesIO()
    Image.new("RGB", (1200, 900), (30, 140, 60)).save(out, "JPEG", exif=exif)
    return out.getvalue()


async def test_upload_sanitise_attach_and_serve_to_the_agency(
    platform: dict[str, Any], staff_token: Callable[..., str]
) -> None:
    """The uploader sees 'processing' then 'ready' with the GPS suggestion; nobody else sees the file until
    it belongs to a public report; the agency's officer downloads the display size with no EXIF left."""
    media = f"http://127.0.0.1:{platform['http_ports']['media']}"
    intake = f"http://127.0.0.1:{platform['http_ports']['intake']}"
    form = aiohttp.FormData()
    form.add_field("file", photo_with_gps(), filename="anh.jpg", content_type="image/jpeg")
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{media}/api/v1/media", data=form) as resp:
            assert resp.status == 201, await resp.text()
            uploaded = await resp.json()
        assert uploaded["status"] == "processing"
        mine = {"X-Upload-Token": uploaded["upload_token"]}
        url = f"{media}/api/v1/media/{uploaded['id']}"

        async def ready() -> dict[str, Any] | None:
            async with http.get(url, headers=mine) as resp:
                shown: dict[str, Any] = await resp.json()
            return shown if shown["status"] == "ready" else None

        shown = await until(ready, "the sanitised photo")
        assert abs(shown["suggestion"]["lat"] - 9.6025) < 0.001  # offered back to the uploader only
        async with http.get(url) as resp:
            assert resp.status == 404  # not attached to a public report yet: nobody else sees it

        body = pii.sample_report(category="dien-chieu-sang", caller=11)
        body["media"] = [{"id": uploaded["id"], "upload_token": uploaded["upload_token"]}]
        async with http.post(f"{intake}/api/v1/reports", json=body, headers=pii.caller_headers(11)) as resp:
            assert resp.status == 201, await resp.text()
            created = await resp.json()

        async def agency() -> str | None:
            async with http.get(
                f"{intake}/api/v1/reports/{created['tracking_code']}",
                headers={"X-Tracking-Secret": created["tracking_secret"]},
            ) as resp:
                tracked = await resp.json()
            return tracked["agency"]["code"] if tracked["agency"] else None

        code = await until(agency, "the report's agency")
        officer = {"Authorization": f"Bearer {staff_token(Role.OFFICER, code)}"}

        async def visible_to_the_agency() -> dict[str, Any] | None:
            async with http.get(url, headers=officer) as resp:
                return await resp.json() if resp.status == 200 else None

        seen = await until(visible_to_the_agency, "the photo for the agency's officer")
        assert "suggestion" not in seen
        async with http.get(media + seen["derivatives"]["display"]) as resp:
            assert resp.status == 200
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
            assert resp.headers["Content-Disposition"].startswith("attachment")
            served = await resp.read()
    image = Image.open(io.BytesIO(served))
    assert image.format == "JPEG"
    assert not image.getexif()
    assert b"Exif" not in served
    assert b"PhoneMaker" not in served
