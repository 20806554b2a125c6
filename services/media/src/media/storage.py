"""S3 through the minio client (blocking: every call runs in a thread)."""

from __future__ import annotations

import asyncio
import io

from minio import Minio

from media.config import Settings


class ObjectStore:
    def __init__(self, settings: Settings) -> None:
        self._client = Minio(
            settings.s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            secure=settings.s3_secure,
        )
        self.bucket = settings.s3_bucket

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(
            self._client.put_object, self.bucket, key, io.BytesIO(data), len(data), content_type=content_type
        )

    async def get(self, key: str) -> bytes:
        def read() -> bytes:
            response = self._client.get_object(self.bucket, key)
            try:
                return bytes(response.read())
            finally:
                response.close()
                response.release_conn()

        return await asyncio.to_thread(read)

    async def check(self) -> None:
        if not await asyncio.to_thread(self._client.bucket_exists, self.bucket):
            raise LookupError("bucket missing")
