"""Hostile uploads against the running media API and its worker.

What media's own tests already prove is not repeated here: the sniffer's verdict per type
(`tests/unit/test_sniff.py`), the sanitiser on polyglots, pixel bombs and non-media (`tests/unit/test_sanitise.py`),
SVG, empty, missing and too large on an in-process app, and that refused or oversized bodies leave nothing in
S3 or PostgreSQL (`tests/integration/test_media_api.py`, `test_streaming.py`). Here the same attacks go through
the running api and worker process as a client sends them, and each answer is checked end to end: refused at
upload with nothing stored, or stored under media's own name, judged by the worker (the verdict through
`GET /api/v1/media/{id}` with the upload token) and, when it is served at all, served only as a re-encoded
image, as an attachment, with `nosniff`, carrying none of the payload.
"""

from __future__ import annotations

import asyncio
import io
import struct
import uuid
import zipfile
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest
from minio import Minio
from multidict import CIMultiDictProxy
from PIL import Image

from paht_shared.testing.kafka import until

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
SERVED_TYPES = {"image/jpeg", "image/webp", "image/png"}  # what the worker writes for a photo
PAYLOAD_MARKERS = (b"<script", b"<html", b"PK\x03\x04", b"alert(", b"<svg")


def jpeg(size: tuple[int, int] = (320, 240)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (40, 90, 160)).save(out, "JPEG")
    return out.getvalue()


def zip_with_a_page() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("index.html", "<html><script>alert(document.cookie)</script></html>")
    return out.getvalue()


def with_comment(photo: bytes, comment: bytes) -> bytes:
    """A JPEG with a COM segment right after its SOI marker: valid JPEG, and a script to a sniffing browser."""
    return photo[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + photo[2:]


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width`×`height` pixels (a decompression bomb for a naive decoder)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 4096))
        + chunk(b"IEND", b"")
    )


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode() for i in range(1, 10)
    )
    + b']><svg xmlns="http://www.w3.org/2000/svg"><text>&lol9;</text></svg>'
)
NESTED_SVG = b'<svg xmlns="http://www.w3.org/2000/svg">' + b"<g>" * 200_000 + b"</g>" * 200_000 + b"</svg>"


def multipart(data: bytes, filename: bytes, content_type: bytes = b"image/jpeg") -> tuple[bytes, str]:
    """A multipart body written by hand, so that a file name can hold what aiohttp's client would refuse."""
    boundary = uuid.uuid4().hex
    head = (
        b"--" + boundary.encode() + b"\r\n"
        b'Content-Disposition: form-data; name="file"; filename="' + filename + b'"\r\n'
        b"Content-Type: " + content_type + b"\r\n\r\n"
    )
    return head + data + b"\r\n--" + boundary.encode() + b"--\r\n", f"multipart/form-data; boundary={boundary}"


class Media:
    """The running media API, and what it keeps (rows in PostgreSQL, originals in S3)."""

    def __init__(self, http: aiohttp.ClientSession, stack: dict[str, Any]) -> None:
        self.http = http
        self.url = f"http://127.0.0.1:{stack['http_ports']['media']}"
        self.dsn = str(stack["admin_dsn"])
        self.bucket = str(stack["s3_bucket"])
        self.s3 = Minio(stack["s3_endpoint"], stack["s3_access_key"], stack["s3_secret_key"], secure=False)

    async def upload(self, data: bytes, filename: bytes = b"anh.jpg", content_type: bytes = b"image/jpeg") -> Any:
        body, header = multipart(data, filename, content_type)
        async with self.http.post(f"{self.url}/api/v1/media", data=body, headers={"Content-Type": header}) as resp:
            return resp.status, await resp.json()

    async def kept(self) -> tuple[set[uuid.UUID], set[str]]:
        conn = await asyncpg.connect(self.dsn)
        try:
            rows = {r["id"] for r in await conn.fetch("SELECT id FROM media.media_objects")}
        finally:
            await conn.close()
        keys = await asyncio.to_thread(
            lambda: {o.object_name for o in self.s3.list_objects(self.bucket, prefix="quarantine/", recursive=True)}
        )
        return rows, {str(k) for k in keys}

    async def nothing_new_since(self, before: tuple[set[uuid.UUID], set[str]]) -> None:
        """No row and no original appeared (retention may have removed some meanwhile)."""
        rows, keys = await self.kept()
        assert rows - before[0] == set()
        assert keys - before[1] == set()

    async def object_key(self, media_id: str) -> str:
        conn = await asyncpg.connect(self.dsn)
        try:
            return str(
                await conn.fetchval("SELECT object_key FROM media.media_objects WHERE id = $1", uuid.UUID(media_id))
            )
        finally:
            await conn.close()

    async def verdict(self, created: dict[str, Any]) -> dict[str, Any]:
        """What the worker made of an upload, as its uploader sees it."""
        mine = {"X-Upload-Token": created["upload_token"]}

        async def judged() -> dict[str, Any] | None:
            async with self.http.get(f"{self.url}/api/v1/media/{created['id']}", headers=mine) as resp:
                assert resp.status == 200, await resp.text()
                shown: dict[str, Any] = await resp.json()
            return shown if shown["status"] != "processing" else None

        found: dict[str, Any] = await until(judged, f"the worker's verdict on {created['id']}")
        return found

    async def served(self, link: str) -> tuple[CIMultiDictProxy[str], bytes]:
        async with self.http.get(self.url + link) as resp:
            assert resp.status == 200, await resp.text()
            return resp.headers, await resp.read()


@pytest.fixture
async def media(platform: dict[str, Any]) -> AsyncIterator[Media]:
    async with aiohttp.ClientSession() as http:
        yield Media(http, platform)


async def assert_served_safely(media: Media, shown: dict[str, Any]) -> None:
    """Every derivative: a re-encoded image, as an attachment named by media, nosniff, none of the payload."""
    assert shown["status"] == "ready", shown
    assert shown["derivatives"], shown
    for name, link in shown["derivatives"].items():
        headers, body = await media.served(link)
        assert headers["Content-Type"] in SERVED_TYPES, (name, headers["Content-Type"])
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert (
            headers["Content-Disposition"]
            == f'attachment; filename="{shown["id"]}-{name}.'
            + {
                "image/jpeg": "jpg",
                "image/webp": "webp",
                "image/png": "png",
            }[headers["Content-Type"]]
            + '"'
        )
        for marker in PAYLOAD_MARKERS:
            assert marker not in body, (name, marker)
        Image.open(io.BytesIO(body)).verify()


@pytest.mark.parametrize(
    "polyglot",
    [
        pytest.param(jpeg() + zip_with_a_page(), id="jpeg+zip"),
        pytest.param(jpeg() + b"<html><body><script>alert(document.cookie)</script></body></html>", id="jpeg+html"),
        pytest.param(with_comment(jpeg(), b"*/=1;alert(document.domain);/*<script>alert(1)</script>"), id="jpeg+js"),
    ],
)
async def test_a_polyglot_is_served_only_as_the_image_it_also_is(media: Media, polyglot: bytes) -> None:
    """Accepted as the JPEG its first bytes say; what anyone can download is a re-encoding without the rest."""
    status, created = await media.upload(polyglot, b"anh.jpg")
    assert status == 201, created
    assert created["content_type"] == "image/jpeg"
    await assert_served_safely(media, await media.verdict(created))


async def test_a_pixel_bomb_is_rejected_by_the_worker_and_never_served(media: Media) -> None:
    """A 300-byte PNG claiming 50,000×50,000 pixels: stored in quarantine, refused by the worker from its header."""
    status, created = await media.upload(png_claiming(50_000, 50_000), b"bomb.png", b"image/png")
    assert status == 201, created
    shown = await media.verdict(created)
    assert (shown["status"], shown.get("reason"), shown["derivatives"]) == ("rejected", "too_many_pixels", {})


@pytest.mark.parametrize(
    ("content", "filename", "declared"),
    [
        pytest.param(BILLION_LAUGHS, b"laughs.svg", b"image/svg+xml", id="svg-billion-laughs"),
        pytest.param(NESTED_SVG, b"nested.svg", b"image/svg+xml", id="svg-deeply-nested"),
        pytest.param(
            b"MZ\x90\x00\x03" + b"\x00" * 4096 + b"This program cannot be run in DOS mode",
            b"setup.exe",
            b"application/octet-stream",
            id="exe",
        ),
        pytest.param(b"MZ\x90\x00\x03" + b"\x00" * 4096, b"anh.jpg", b"image/jpeg", id="exe-named-jpg"),
        pytest.param(
            b"%PDF-1.7\n1 0 obj\n<< /JS (app.alert(1)) >>\nendobj\n", b"report.pdf", b"application/pdf", id="pdf"
        ),
        pytest.param(
            b"<!DOCTYPE html><html><script>alert(1)</script></html>", b"anh.jpg", b"image/jpeg", id="html-named-jpg"
        ),
        pytest.param(b"  \n<html><body onload=alert(1)>", b"anh.jpeg", b"image/jpeg", id="html-after-whitespace"),
        pytest.param(zip_with_a_page(), b"photos.jpg", b"image/jpeg", id="zip-named-jpg"),
        pytest.param(b"\x7fELF\x02\x01\x01" + b"\x00" * 4096, b"anh.png", b"image/png", id="elf-named-png"),
        pytest.param(b"alert(document.cookie)//" + b"A" * 2048, b"anh.js.jpg", b"image/jpeg", id="javascript"),
    ],
)
async def test_what_is_not_an_allowed_media_type_is_refused_and_nothing_is_kept(
    media: Media, content: bytes, filename: bytes, declared: bytes
) -> None:
    """Whatever its name and declared type: 415 from the first bytes, no row, no object."""
    before = await media.kept()
    status, answer = await media.upload(content, filename, declared)
    assert (status, answer["errors"][0]["code"]) == (415, "unsupported_media_type"), answer
    await media.nothing_new_since(before)


@pytest.mark.parametrize(
    "filename",
    [
        pytest.param(b"../../etc/passwd.jpg", id="dot-dot"),
        pytest.param(b"..\\..\\windows\\win.ini.jpg", id="backslashes"),
        pytest.param(b"/etc/cron.d/evil.jpg", id="absolute"),
        pytest.param(b"anh\x00.php.jpg", id="nul"),
        pytest.param(b"%2e%2e%2f%2e%2e%2fpasswd.jpg", id="percent-encoded"),
        pytest.param(b"a" * 4000 + b".jpg", id="very-long"),
        pytest.param("ảnh <script>alert(1)</script>.jpg".encode(), id="markup-and-unicode"),
    ],
)
async def test_a_path_like_file_name_never_names_what_is_stored_or_served(media: Media, filename: bytes) -> None:
    """The client's file name is not used: the original is kept at quarantine/<id>, answers never repeat the
    name, and downloads are named by media (or the body is refused as malformed, keeping nothing)."""
    before = await media.kept()
    status, created = await media.upload(jpeg(), filename)
    if status != 201:
        assert status == 400, created
        await media.nothing_new_since(before)
        return
    assert await media.object_key(created["id"]) == f"quarantine/{created['id']}"
    assert set(created) == {"id", "upload_token", "status", "kind", "content_type", "size"}
    shown = await media.verdict(created)
    for text in (str(created), str(shown)):
        assert "passwd" not in text
        assert "win.ini" not in text
        assert "script" not in text
    await assert_served_safely(media, shown)
    _rows, keys = await media.kept()
    assert not [k for k in keys if ".." in k or "passwd" in k or "\\" in k]


async def test_a_body_over_the_photo_limit_is_a_413_and_nothing_is_kept(media: Media) -> None:
    """15 MiB is the photo limit: one byte-chunk over it, the upload stops with 413, no row and no object."""
    before = await media.kept()
    status, answer = await media.upload(jpeg()[:20] + b"\x00" * (15 * MiB + 64 * 1024), b"big.jpg")
    assert (status, answer["errors"][0]["code"]) == (413, "file_too_large"), answer
    await media.nothing_new_since(before)
