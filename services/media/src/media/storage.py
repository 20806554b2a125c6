"""S3 through the minio client. minio blocks, so every call runs in a thread; bytes stream both ways.

Upload: the event loop pushes chunks into a `Pipe` (at most PIPE_CAPACITY bytes in flight); a thread
of the upload pool runs minio's `put_object(length=-1)`, which reads the pipe and sends one multipart
part at a time. Memory per upload is a few parts, whatever the file's size.
Download: `ObjectStream` reads the S3 response a chunk at a time, each read in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, cast

import structlog
import urllib3
from minio import Minio
from minio.error import MinioException, S3Error
from urllib3.exceptions import HTTPError

from media.config import Settings

log = structlog.get_logger("media.storage")

PIPE_CAPACITY = 1024 * 1024  # bytes between the request reader and the upload thread
DOWNLOAD_CHUNK = 256 * 1024
# minio's own client waits 5 minutes to connect and retries 5 times: an outage must be a fast 503 instead.
CONNECT_TIMEOUT_SECONDS = 3.0
# The longest S3 may stay silent once a request (or one multipart part) is sent. A stopping SeaweedFS keeps the
# connections it accepted open and never answers (about 15 s, until it is killed): at 60 s a citizen's upload
# waited all that time for its 503. A healthy S3 answers a part in well under a second.
READ_TIMEOUT_SECONDS = 4.0
RETRIES = 2  # refused connections and 5xx answers; a silent server is not asked again (read=0)

# What a failing, unreachable or misconfigured S3 endpoint raises through minio.
S3_FAILURES = (MinioException, HTTPError, OSError)


class StorageUnavailable(Exception):
    """S3 cannot be reached or refused the operation: the client should retry later."""


class ObjectMissing(Exception):
    """The bucket has no object under this key."""


class ObjectTooLarge(Exception):
    """An object is larger than the caller agreed to read."""


class UploadAborted(Exception):
    """Raised inside the upload thread when the request side gave up (too large, client gone)."""


class Pipe:
    """Bytes handed from the event loop to one blocking reader thread, at most `capacity` buffered.

    The writer side (`write`, `close`, `abort`) runs on the event loop; `read` runs in the thread,
    which is what minio's put_object expects of a file. A write waits, without blocking the loop,
    while the buffer is full; so a fast client is slowed to S3's pace instead of filling memory.
    """

    def __init__(self, capacity: int, loop: asyncio.AbstractEventLoop) -> None:
        self._capacity = capacity
        self._loop = loop
        self._lock = threading.Condition()
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._eof = False
        self._aborted = False
        self._reader_gone = False
        self._space = asyncio.Event()

    async def write(self, data: bytes) -> bool:
        """Queue `data` for the reader; False if the reader has stopped (its own error says why)."""
        while True:
            with self._lock:
                if self._reader_gone:
                    return False
                if self._buffered < self._capacity:
                    self._chunks.append(data)
                    self._buffered += len(data)
                    self._lock.notify()
                    return True
                # Cleared under the lock: a read that frees space after this schedules a set() that
                # runs after this clear, so the wake-up cannot be lost.
                self._space.clear()
            await self._space.wait()

    def close(self) -> None:
        """No more data: the reader sees end of file once the buffer is drained."""
        with self._lock:
            self._eof = True
            self._lock.notify_all()

    def abort(self) -> None:
        """Make the reader's next read fail, so that minio abandons the upload."""
        with self._lock:
            self._aborted = True
            self._chunks.clear()
            self._buffered = 0
            self._lock.notify_all()

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes (all buffered ones if negative); b"" at end of file. Called in the thread."""
        with self._lock:
            while not self._chunks and not self._eof and not self._aborted:
                self._lock.wait()
            if self._aborted:
                raise UploadAborted
            taken: list[bytes] = []
            wanted = size if size >= 0 else self._buffered
            while self._chunks and wanted > 0:
                chunk = self._chunks.popleft()
                if len(chunk) > wanted:
                    self._chunks.appendleft(chunk[wanted:])
                    chunk = chunk[:wanted]
                taken.append(chunk)
                wanted -= len(chunk)
                self._buffered -= len(chunk)
        self._loop.call_soon_threadsafe(self._space.set)
        return b"".join(taken)

    def reader_stopped(self) -> None:
        """The thread has finished (done or failed): writers must stop waiting for space."""
        with self._lock:
            self._reader_gone = True
        self._loop.call_soon_threadsafe(self._space.set)


class ObjectStream:
    """An S3 object's bytes as they arrive, with the length S3 announced."""

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self._response = response
        announced = response.headers.get("Content-Length")
        self.length = int(announced) if announced is not None else None

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            try:
                chunk = await asyncio.to_thread(self._response.read, DOWNLOAD_CHUNK)
            except S3_FAILURES as exc:
                raise StorageUnavailable(type(exc).__name__) from exc
            if not chunk:
                return
            yield chunk

    def close(self) -> None:
        self._response.close()
        self._response.release_conn()


class ObjectStore:
    """One bucket. Uploads hold a thread for their whole duration, so they get a pool of their own:
    slow uploads then cannot starve the short calls (readiness, downloads, deletes) of threads."""

    def __init__(self, settings: Settings) -> None:
        self._client = Minio(
            settings.s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            secure=settings.s3_secure,
            http_client=urllib3.PoolManager(
                timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=READ_TIMEOUT_SECONDS),
                maxsize=settings.s3_upload_threads + 8,
                # certificates: urllib3 verifies against the system's trust store
                retries=urllib3.Retry(total=RETRIES, read=0, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
            ),
        )
        self.bucket = settings.s3_bucket
        self.key_prefix = settings.s3_key_prefix
        self._part_size = settings.s3_part_size_bytes
        self._uploads = ThreadPoolExecutor(settings.s3_upload_threads, thread_name_prefix="s3-upload")

    def close(self) -> None:
        self._uploads.shutdown(wait=False, cancel_futures=True)

    async def upload(self, key: str, content_type: str, chunks: AsyncIterable[bytes]) -> None:
        """Stream `chunks` into `key`. If anything fails, no object is left under `key`.

        An exception raised by `chunks` (the size limit, a client that went away) propagates
        unchanged; an S3 failure becomes StorageUnavailable.
        """
        pipe = Pipe(PIPE_CAPACITY, asyncio.get_running_loop())
        put = asyncio.wrap_future(self._uploads.submit(self._put_from, pipe, key, content_type))
        try:
            async for chunk in chunks:
                if not await pipe.write(chunk):
                    break  # the S3 side stopped; awaiting `put` raises its error
            pipe.close()
            # shielded: a cancelled request must still wait below for the thread, or the thread could
            # complete the object after we removed it
            await asyncio.shield(put)
        except BaseException as exc:
            pipe.abort()
            with contextlib.suppress(BaseException):
                await put  # the thread stops at its next read; the UploadAborted it raises is expected
            await self.remove(key)
            if isinstance(exc, S3_FAILURES):
                log.warning("s3_upload_failed", error=type(exc).__name__)
                raise StorageUnavailable(type(exc).__name__) from exc
            raise

    def _put_from(self, pipe: Pipe, key: str, content_type: str) -> None:
        try:
            self._client.put_object(
                self.bucket,
                key,
                cast(BinaryIO, pipe),  # minio only calls read(size)
                length=-1,
                part_size=self._part_size,
                content_type=content_type,
                # one part at a time: parallel parts would each hold a part's worth of memory
                num_parallel_uploads=1,
            )
        finally:
            pipe.reader_stopped()

    async def remove(self, key: str) -> None:
        """Best effort: removing a key that was never written is harmless."""
        try:
            await asyncio.to_thread(self._client.remove_object, self.bucket, key)
        except S3_FAILURES as exc:
            log.warning("s3_remove_failed", error=type(exc).__name__)

    async def open(self, key: str) -> ObjectStream:
        """The object's bytes as a stream; the caller closes it."""
        try:
            response = await asyncio.to_thread(self._client.get_object, self.bucket, key)
        except S3Error as exc:
            if exc.code == "NoSuchKey":
                raise ObjectMissing(key) from exc
            raise StorageUnavailable(exc.code) from exc
        except S3_FAILURES as exc:
            raise StorageUnavailable(type(exc).__name__) from exc
        return ObjectStream(response)

    async def delete(self, key: str) -> None:
        """Remove `key` (a missing key is fine); unlike `remove`, an S3 failure is raised: the caller retries."""
        try:
            await asyncio.to_thread(self._client.remove_object, self.bucket, key)
        except S3_FAILURES as exc:
            raise StorageUnavailable(type(exc).__name__) from exc

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every object under `prefix`; returns how many. S3 failures are raised."""

        def remove_all() -> int:
            names = [str(o.object_name) for o in self._client.list_objects(self.bucket, prefix=prefix, recursive=True)]
            for name in names:
                self._client.remove_object(self.bucket, name)
            return len(names)

        try:
            return await asyncio.to_thread(remove_all)
        except S3_FAILURES as exc:
            raise StorageUnavailable(type(exc).__name__) from exc

    async def download_to(self, key: str, path: Path, max_bytes: int) -> int:
        """Copy the object into `path` a chunk at a time (never whole in memory); returns its size.

        ObjectMissing if there is no such key, ObjectTooLarge past `max_bytes`, StorageUnavailable if S3 fails.
        """
        stream = await self.open(key)
        size = 0
        try:
            with path.open("wb") as out:
                async for chunk in stream.chunks():
                    size += len(chunk)
                    if size > max_bytes:
                        raise ObjectTooLarge(key)
                    await asyncio.to_thread(out.write, chunk)
        finally:
            stream.close()
        return size

    async def put_file(self, key: str, path: Path, content_type: str) -> int:
        """Upload a local file to `key`, replacing what is there; returns its size."""

        def put() -> int:
            self._client.fput_object(self.bucket, key, str(path), content_type=content_type)
            return path.stat().st_size

        try:
            return await asyncio.to_thread(put)
        except S3_FAILURES as exc:
            log.warning("s3_put_failed", error=type(exc).__name__)
            raise StorageUnavailable(type(exc).__name__) from exc

    async def check(self) -> None:
        if not await asyncio.to_thread(self._client.bucket_exists, self.bucket):
            raise LookupError("bucket missing")
