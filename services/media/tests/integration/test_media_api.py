"""Upload through the real S3 (SeaweedFS) and PostgreSQL: the answer, the refusals, readiness."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 40


def form(data: bytes, name: str = "file", filename: str = "anh.jpg") -> aiohttp.FormData:
    body = aiohttp.FormData()
    body.add_field(name, data, filename=filename, content_type="application/octet-stream")
    return body


async def test_upload_answers_with_its_token_and_the_original_is_never_served(client: TestClient[Any, Any]) -> None:
    """201 with id, upload token and `processing`; GET describes the upload (to its uploader) and never gives bytes."""
    resp = await client.post("/api/v1/media", data=form(JPEG))
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert set(created) == {"id", "upload_token", "status", "kind", "content_type", "size"}
    assert (created["status"], created["kind"], created["content_type"], created["size"]) == (
        "processing",
        "image",
        "image/jpeg",
        len(JPEG),
    )
    got = await client.get(f"/api/v1/media/{created['id']}", headers={"X-Upload-Token": created["upload_token"]})
    assert got.status == 200
    assert got.content_type == "application/json"
    assert await got.json() == {
        "id": created["id"],
        "status": "processing",
        "kind": "image",
        "derivatives": {},
        "suggestion": None,
    }
    assert (await client.get(f"/api/v1/media/{created['id']}")).status == 404


async def test_bad_uploads_get_clear_errors(client: TestClient[Any, Any]) -> None:
    """SVG refused, empty file, missing field, too large, not multipart, unknown id: each its own code."""
    svg = await client.post("/api/v1/media", data=form(b"<svg xmlns='http://www.w3.org/2000/svg'/>", filename="a.jpg"))
    assert svg.status == 415
    assert (await svg.json())["errors"][0]["code"] == "unsupported_media_type"
    empty = await client.post("/api/v1/media", data=form(b""))
    assert (empty.status, (await empty.json())["errors"][0]["code"]) == (422, "empty_file")
    missing = await client.post("/api/v1/media", data=form(JPEG, name="other"))
    assert (missing.status, (await missing.json())["errors"][0]["code"]) == (422, "missing")
    big = await client.post("/api/v1/media", data=form(JPEG * 10))
    assert (big.status, (await big.json())["errors"][0]["code"]) == (413, "file_too_large")
    plain = await client.post("/api/v1/media", json={"file": "x"})
    assert plain.status == 415
    unknown = await client.get("/api/v1/media/00000000-0000-0000-0000-000000000000")
    assert unknown.status == 404
    assert (await client.get("/api/v1/media/not-a-uuid")).status == 404


async def test_a_part_with_malformed_headers_is_a_400(client: TestClient[Any, Any]) -> None:
    """A control character in a part's field name (found by Schemathesis) is the client's mistake, not a 500."""
    body = (
        b'--b\r\nContent-Disposition: form-data; name="\x16"\r\n\r\n{}\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n' + JPEG + b"\r\n--b--\r\n"
    )
    resp = await client.post("/api/v1/media", data=body, headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert (resp.status, (await resp.json())["errors"][0]["code"]) == (400, "invalid_multipart")


async def test_readiness_checks_s3(client: TestClient[Any, Any]) -> None:
    """readyz reports PostgreSQL and the S3 bucket."""
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["checks"] == {"postgres": "ok", "s3": "ok"}
