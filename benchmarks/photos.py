"""Media: 12-megapixel phone photos uploaded (MB/s), then sanitised by the running media worker (photos/s).

The photo is media.sanitise_bench's (smoothed noise with grain, JPEG quality 92: compresses like a real
photo). BENCH_MEDIA_FILES copies (default 24) are uploaded, BENCH_MEDIA_CONCURRENCY (default 8) at once, with
the media worker stopped, so the upload has the machine to itself. Then the worker starts and sanitises the
backlog one photo at a time, as it does in production (download from S3, decode, strip, re-encode the
derivatives, upload them, mark ready): photos/s = (photos - 1) / the span of their processed_at, each stamped
when the worker's transaction for that photo began, so its start-up does not count.

For comparison, media.sanitise_bench's figure: the sanitiser alone, in one thread of this process, no S3.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from pathlib import Path

import asyncpg

from benchmarks.media_upload import upload_all
from benchmarks.results import Section, Target
from benchmarks.workers import Stack, start, stop, until_none
from media.sanitise_bench import _phone_photo, photos_per_second

PER_WORKER_TARGET = Target(">=", 8.0)


def phone_photo() -> bytes:
    with tempfile.TemporaryDirectory(prefix="bench-photo-") as tmp:
        path = Path(tmp) / "photo.jpg"
        _phone_photo(path)
        return path.read_bytes()


async def wait_processed(admin_dsn: str, ids: list[uuid.UUID], limit: float) -> asyncpg.Record:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await until_none(
            conn,
            "SELECT count(*) FROM media.media_objects WHERE id = ANY($1::uuid[]) AND status = 'processing'",
            ids,
            limit,
        )
        row: asyncpg.Record = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE status = 'ready') AS ready, count(*) FILTER (WHERE status = 'rejected') "
            "AS rejected, min(processed_at) AS first, max(processed_at) AS last FROM media.media_objects "
            "WHERE id = ANY($1::uuid[])",
            ids,
        )
        return row
    finally:
        await conn.close()


async def measure(stack: Stack) -> Section:
    files = int(os.environ.get("BENCH_MEDIA_FILES") or 24)
    concurrency = int(os.environ.get("BENCH_MEDIA_CONCURRENCY") or 8)
    photo = phone_photo()
    megabytes = len(photo) / 1e6
    section = Section(
        "media",
        f"{files} uploads of a 12 MP JPEG ({megabytes:.1f} MB), {concurrency} at once, to media's API with its "
        "worker stopped (MB/s); then the media worker sanitising them one by one (photos/s from its "
        "processed_at stamps); and the sanitiser alone in one thread (media.sanitise_bench).",
    )
    print(f"media: uploading {files} x {megabytes:.1f} MB photos", flush=True)
    stop(stack, "media-worker")
    elapsed, accepted, refused = await upload_all(f"{stack.url('media')}/api/v1/media", photo, files, concurrency)
    section.add("upload_mb_per_second", "upload", files * megabytes / elapsed, "MB/s")
    print("media: the worker sanitising them", flush=True)
    await start(stack, "media-worker")
    done = await wait_processed(stack.admin_dsn, [uuid.UUID(i) for i in accepted], limit=300)
    span = (done["last"] - done["first"]).total_seconds() if done["ready"] > 1 else 0.0
    section.add("worker_photos_per_second", "worker sanitising (one worker)",
                (done["ready"] - 1) / span if span else 0.0, "photos/s", PER_WORKER_TARGET)  # fmt: skip
    print("media: the sanitiser alone, one thread (media.sanitise_bench)", flush=True)
    alone = await asyncio.to_thread(photos_per_second)
    section.add("sanitiser_photos_per_second", "sanitiser alone (one thread)", alone, "photos/s", PER_WORKER_TARGET)
    section.details = {
        "files": files,
        "photo_bytes": len(photo),
        "concurrency": concurrency,
        "upload_seconds": round(elapsed, 2),
        "refused": refused,
        "ready": done["ready"],
        "rejected": done["rejected"],
    }
    return section
