"""Uploads stream to S3 and downloads stream back, with memory bounded whatever the file's size;
a refused, oversized or failed upload leaves nothing behind."""

from __future__ import annotations

import asyncio
import hashlib
import random
import socket
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from media.config import Settings
from media.storage import ObjectStream, StorageUnavailable

MarkReady = Callable[[str, str, str], Awaitable[None]]  # the conftest fixture's type
MakeClient = Callable[..., AbstractAsyncContextManager[TestClient[Any, Any]]]
MiB = 1024 * 1024
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00"


class Upload:
    """A file sent as a chunked multipart body, generated as it goes: the test itself never holds it."""

    def __init__(self, size: int, head: bytes = MP4_HEAD, chunk: int = 64 * 1024) -> None:
        self.size = size
        self._head = head
        self._chunk = chunk
        self.sha256 = hashlib.sha256()

    async def _bytes(self) -> AsyncIterator[bytes]:
        noise = random.Random(self.size)  # noqa: S311 - test data, not secrets
        sent = 0
        while sent < self.size:
            chunk = noise.randbytes(min(self._chunk, self.size - sent))
            if sent == 0:
                chunk = self._head + chunk[len(self._head) :]
            self.sha256.update(chunk)
            sent += len(chunk)
            yield chunk

    def body(self) -> aiohttp.MultipartWriter:
        writer = aiohttp.MultipartWriter("form-data")
        part = writer.append(self._bytes(), {"Content-Type": "application/octet-stream"})
        part.set_content_disposition("form-data", name="file", filename="video.mp4")
        return writer


async def file_link(client: TestClient[Any, Any], created: dict[str, Any], name: str) -> str:
    """The uploader's signed link to one derivative."""
    shown = await client.get(f"/api/v1/media/{created['id']}", headers={"X-Upload-Token": created["upload_token"]})
    assert shown.status == 200
    return str((await shown.json())["derivatives"][name])


async def test_large_upload_streams_through_with_bounded_memory(
    make_client: MakeClient, media_rows: Callable[[], Awaitable[list[asyncpg.Record]]], mark_ready: MarkReady
) -> None:
    """40 MiB up, and back down as a derivative, intact (same SHA-256) while the process allocates well under 40 MiB."""
    upload = Upload(40 * MiB)
    async with make_client(max_upload_bytes=50 * MiB) as client:
        tracemalloc.start()
        try:
            resp = await client.post("/api/v1/media", data=upload.body())
            assert resp.status == 201, await resp.text()
            created = await resp.json()
            _, upload_peak = tracemalloc.get_traced_memory()
            await mark_ready(created["id"], "video", "video/mp4")  # the worker's re-encoding is not measured here
            link = await file_link(client, created, "video")
            tracemalloc.reset_peak()
            got = await client.get(link)
            assert got.status == 200
            downloaded, received = hashlib.sha256(), 0
            async for chunk in got.content.iter_chunked(256 * 1024):
                downloaded.update(chunk)
                received += len(chunk)
            _, download_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert (created["kind"], created["content_type"], created["size"]) == ("video", "video/mp4", upload.size)
    assert got.headers["Content-Length"] == str(upload.size)
    assert received == upload.size
    assert downloaded.digest() == upload.sha256.digest()
    [row] = await media_rows()
    assert bytes(row["sha256"]) == upload.sha256.digest()
    # about three 5 MiB S3 parts (minio keeps the part it sent while assembling the next), never the file;
    # the client side of this in-process test is counted too
    assert upload_peak < 20 * MiB, f"upload peak {upload_peak / MiB:.1f} MiB"
    assert download_peak < 4 * MiB, f"download peak {download_peak / MiB:.1f} MiB"


async def test_each_kind_has_its_own_limit(make_client: MakeClient, stored_keys: Callable[[], list[str]]) -> None:
    """Known from the first bytes: a 2 MiB photo passes the video limit but not the photo limit (413, nothing kept)."""
    jpeg = Upload(2 * MiB, head=b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")
    async with make_client(max_upload_bytes=50 * MiB, max_image_bytes=1 * MiB, max_video_bytes=3 * MiB) as client:
        photo = await client.post("/api/v1/media", data=jpeg.body())
        assert (photo.status, (await photo.json())["errors"][0]["code"]) == (413, "file_too_large")
        assert "1 MB" in (await photo.json())["errors"][0]["message"]
        assert stored_keys() == []
        video = await client.post("/api/v1/media", data=Upload(2 * MiB).body())
        assert video.status == 201


async def test_oversized_upload_stops_and_leaves_nothing(
    make_client: MakeClient,
    stored_keys: Callable[[], list[str]],
    media_rows: Callable[[], Awaitable[list[asyncpg.Record]]],
) -> None:
    """Past the limit, after two S3 parts were already sent: 413, no object, no multipart leftovers, no row."""
    async with make_client(max_upload_bytes=12 * MiB) as client:
        resp = await client.post("/api/v1/media", data=Upload(16 * MiB).body())
        assert resp.status == 413
        assert (await resp.json())["errors"][0]["code"] == "file_too_large"
    assert stored_keys() == []
    assert await media_rows() == []


async def test_refused_type_stores_nothing(
    client: TestClient[Any, Any],
    stored_keys: Callable[[], list[str]],
    media_rows: Callable[[], Awaitable[list[asyncpg.Record]]],
) -> None:
    """An HTML file is refused from its first bytes: 415, nothing in S3 or PostgreSQL."""
    resp = await client.post("/api/v1/media", data=Upload(40 * 1024, head=b"<!DOCTYPE html><html>").body())
    assert resp.status == 415
    assert (await resp.json())["errors"][0]["code"] == "unsupported_media_type"
    assert stored_keys() == []
    assert await media_rows() == []


async def test_failed_database_insert_removes_the_object(
    client: TestClient[Any, Any],
    settings: Settings,
    stored_keys: Callable[[], list[str]],
) -> None:
    """If the row cannot be written the stored object is removed: no bytes nobody can find."""
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": settings.db_schema})
    try:
        await conn.execute("ALTER TABLE media_objects RENAME TO media_objects_gone")
    finally:
        await conn.close()
    resp = await client.post("/api/v1/media", data=Upload(40 * 1024).body())
    assert resp.status == 500
    assert stored_keys() == []


async def test_malformed_or_cut_multipart_is_a_400_and_stores_nothing(
    client: TestClient[Any, Any],
    stored_keys: Callable[[], list[str]],
    media_rows: Callable[[], Awaitable[list[asyncpg.Record]]],
) -> None:
    """No boundary, garbage, or a file part that ends before its closing boundary: 400, never a shorter file."""
    multipart = "multipart/form-data; boundary=xyz"
    part = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n\xff\xd8\xff' + b"a" * 100
    for content_type, body in [
        ("multipart/form-data", b"garbage"),
        (multipart, b"garbage"),
        (multipart, part),
    ]:
        resp = await client.post("/api/v1/media", data=body, headers={"Content-Type": content_type})
        assert resp.status == 400, (content_type, body[:20])
        assert (await resp.json())["errors"][0]["code"] == "invalid_multipart"
    whole = await client.post("/api/v1/media", data=part + b"\r\n--xyz--\r\n", headers={"Content-Type": multipart})
    assert whole.status == 201
    assert len(stored_keys()) == len(await media_rows()) == 1


async def test_client_gone_mid_upload_leaves_nothing(
    make_client: MakeClient,
    stored_keys: Callable[[], list[str]],
    media_rows: Callable[[], Awaitable[list[asyncpg.Record]]],
) -> None:
    """A phone that loses its connection after an S3 part was sent: the partial upload is abandoned."""
    async with make_client(max_upload_bytes=50 * MiB) as client:
        _, writer = await asyncio.open_connection(client.host, client.port)
        writer.write(
            b"POST /api/v1/media HTTP/1.1\r\nHost: test\r\nContent-Type: multipart/form-data; boundary=xyz\r\n"
            b'Content-Length: 20000000\r\n\r\n--xyz\r\nContent-Disposition: form-data; name="file"\r\n\r\n' + MP4_HEAD
        )
        for _ in range(7):
            writer.write(b"\x01" * MiB)
            await writer.drain()
        assert await eventually(lambda: stored_keys() != []), "no multipart upload began"
        writer.transport.abort()
        assert await eventually(lambda: stored_keys() == []), stored_keys()
    assert await media_rows() == []


async def eventually(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return True
        await asyncio.sleep(0.05)
    return condition()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_s3_is_a_503_not_a_500(
    make_client: MakeClient,
    client: TestClient[Any, Any],
    mark_ready: MarkReady,
    media_rows: Callable[[], Awaitable[list[asyncpg.Record]]],
    settings: Settings,
) -> None:
    """S3 down: upload and download answer 503 with Retry-After, fast, recording nothing; readiness says so."""
    resp = await client.post("/api/v1/media", data=Upload(40 * 1024).body())
    created = await resp.json()
    await mark_ready(created["id"], "video", "video/mp4")
    link = await file_link(client, created, "video")
    async with make_client(s3_endpoint=f"127.0.0.1:{closed_port()}") as cut_off:
        ready = await cut_off.get("/readyz")  # first proof that S3 is unreachable for this app
        assert (await ready.json())["checks"]["s3"].startswith("unavailable")
        started = time.monotonic()
        up = await cut_off.post("/api/v1/media", data=Upload(40 * 1024).body())
        assert up.status == 503, await up.text()
        assert time.monotonic() - started < 10
        assert (await up.json())["errors"][0]["code"] == "service_unavailable"
        assert int(up.headers["Retry-After"]) > 0
        # nothing recorded: only the upload made before the outage has a row and a media.uploaded event
        assert len(await media_rows()) == 1
        conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": settings.db_schema})
        try:
            assert await conn.fetchval("SELECT count(*) FROM outbox") == 1
        finally:
            await conn.close()
        down = await cut_off.get(link)
        assert down.status == 503
        assert (await down.json())["errors"][0]["code"] == "service_unavailable"
        ready = await cut_off.get("/readyz")
        assert ready.status == 503
        assert (await ready.json())["checks"]["s3"].startswith("unavailable")


async def test_s3_failing_mid_download_cuts_the_connection(
    client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch, mark_ready: MarkReady
) -> None:
    """Once the 200 is sent, an S3 failure can only show as a short body: the client must notice."""
    resp = await client.post("/api/v1/media", data=Upload(40 * 1024).body())
    assert resp.status == 201
    created = await resp.json()
    await mark_ready(created["id"], "video", "video/mp4")
    link = await file_link(client, created, "video")

    async def failing(self: ObjectStream) -> AsyncIterator[bytes]:
        yield b"\x00" * 1024
        raise StorageUnavailable("test")

    monkeypatch.setattr(ObjectStream, "chunks", failing)
    got = await client.get(link)
    assert got.status == 200
    with pytest.raises(aiohttp.ClientPayloadError):
        await got.read()
