"""A media app on the real PostgreSQL and S3, with a schema and an S3 key prefix of its own per test.

A prefix, not a bucket: SeaweedFS gives each bucket its own volumes, and the development server has few.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from minio import Minio
from minio.commonconfig import CopySource
from minio.datatypes import Upload

from media import repository
from media.app import build_app
from media.config import Settings
from media.domain import DerivativeFile, derivative_key
from paht_shared.db import create_pool

MakeClient = Callable[..., AbstractAsyncContextManager[TestClient[Any, Any]]]


@pytest.fixture
def s3(stack: dict[str, Any]) -> Minio:
    return Minio(
        stack["s3_endpoint"], access_key=stack["s3_access_key"], secret_key=stack["s3_secret_key"], secure=False
    )


@pytest.fixture
def key_prefix(s3: Minio, stack: dict[str, Any]) -> Iterator[str]:
    """A fresh key prefix in the shared bucket, so that listing it shows exactly what this test left."""
    prefix = f"test-{uuid.uuid4().hex[:12]}/"
    yield prefix
    bucket = stack["s3_bucket"]
    for obj in s3.list_objects(bucket, prefix=prefix, recursive=True):
        s3.remove_object(bucket, str(obj.object_name))
    for upload in pending_uploads(s3, bucket, prefix):
        s3._abort_multipart_upload(bucket, str(upload.object_name), str(upload.upload_id))


def pending_uploads(s3: Minio, bucket: str, prefix: str) -> list[Upload]:
    """Multipart uploads begun and neither completed nor aborted (minio has no public call for them)."""
    return list(s3._list_multipart_uploads(bucket, prefix=prefix).uploads or [])


@pytest.fixture
async def settings(
    admin_dsn: str, stack: dict[str, Any], key_prefix: str, service_schema: Callable[[str], Awaitable[str]]
) -> Settings:
    return Settings(
        database_url=admin_dsn,
        db_schema=await service_schema("media"),
        s3_endpoint=stack["s3_endpoint"],
        s3_access_key=stack["s3_access_key"],
        s3_secret_key=stack["s3_secret_key"],
        s3_bucket=stack["s3_bucket"],
        s3_key_prefix=key_prefix,
        max_upload_bytes=64 * 1024,
    )


@pytest.fixture
def make_client(settings: Settings) -> MakeClient:
    """Factory: a test client of an app built from the test's settings with some of them changed."""

    @asynccontextmanager
    async def make(**changes: Any) -> AsyncIterator[TestClient[Any, Any]]:
        async with TestClient(TestServer(build_app(settings.model_copy(update=changes)))) as test_client:
            yield test_client

    return make


@pytest.fixture
async def client(make_client: MakeClient) -> AsyncIterator[TestClient[Any, Any]]:
    async with make_client() as test_client:
        yield test_client


@pytest.fixture
def stored_keys(s3: Minio, settings: Settings) -> Callable[[], list[str]]:
    """Objects and unfinished multipart uploads under the test's prefix."""

    def keys() -> list[str]:
        objects = s3.list_objects(settings.s3_bucket, prefix=settings.s3_key_prefix, recursive=True)
        pending = pending_uploads(s3, settings.s3_bucket, settings.s3_key_prefix)
        return [str(o.object_name) for o in objects] + [f"pending:{u.object_name}" for u in pending]

    return keys


@pytest.fixture
def media_rows(settings: Settings) -> Callable[[], Awaitable[list[asyncpg.Record]]]:
    async def rows() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": settings.db_schema})
        try:
            return list(await conn.fetch("SELECT id, object_key, size_bytes, sha256 FROM media_objects"))
        finally:
            await conn.close()

    return rows


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """The service's own kind of pool (jsonb codecs), on the test's schema."""
    pool = await create_pool(settings.database_url, settings.db_schema, min_size=1, max_size=4)
    yield pool
    await pool.close()


MarkReady = Callable[[str, str, str], Awaitable[None]]


@pytest.fixture
def mark_ready(s3: Minio, settings: Settings, pool: asyncpg.Pool) -> MarkReady:
    """Factory: make an upload `ready` with its original copied as one derivative, without the worker (for tests
    of serving, not of sanitising)."""

    async def make(media_id: str, name: str, content_type: str) -> None:
        media = uuid.UUID(media_id)
        key = derivative_key(media, name, settings.s3_key_prefix)
        source = CopySource(settings.s3_bucket, f"{settings.s3_key_prefix}quarantine/{media}")
        s3.copy_object(settings.s3_bucket, key, source)
        size = s3.stat_object(settings.s3_bucket, key).size or 0
        async with pool.acquire() as conn:
            file = DerivativeFile(name=name, content_type=content_type, size=size)
            assert await repository.mark_ready(conn, media, (file,), None, (None, None, None))

    return make
