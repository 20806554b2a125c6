"""Upload throughput to the running media service, in MB/s (`make bench` runs it through benchmarks/photos.py).

Standalone: `python -m benchmarks.media_upload` uploads BENCH_MEDIA_FILES files (default 40) of BENCH_MEDIA_MB
megabytes (default 8: a phone photo is 3-12 MB) at BENCH_MEDIA_CONCURRENCY (default 8) concurrent uploads, over
loopback, streamed to S3 by the service. Each file is a valid JPEG header followed by random bytes
(incompressible; the worker refuses it as undecodable afterwards, which does not matter here: this measures
the upload path, not the sanitiser).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]


async def upload_all(url: str, body: bytes, files: int, concurrency: int) -> tuple[float, list[str], int]:
    """Upload `body` `files` times, `concurrency` at once: (seconds, ids of the 201s, how many were refused)."""
    semaphore = asyncio.Semaphore(concurrency)
    accepted: list[str] = []
    refused = 0

    async def one(http: aiohttp.ClientSession) -> None:
        nonlocal refused
        form = aiohttp.FormData()
        form.add_field("file", body, filename="anh.jpg", content_type="image/jpeg")
        async with semaphore, http.post(url, data=form) as resp:
            answer = await resp.read()
            if resp.status == 201:
                accepted.append(json.loads(answer)["id"])
            else:
                refused += 1

    began = time.perf_counter()
    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(one(http) for _ in range(files)))
    return time.perf_counter() - began, accepted, refused


async def main() -> None:
    stack: dict[str, Any] = json.loads((ROOT / ".infra" / "stack.json").read_text())
    url = f"http://127.0.0.1:{stack['http_ports']['media']}/api/v1/media"
    files = int(os.environ.get("BENCH_MEDIA_FILES", "40"))
    megabytes = int(os.environ.get("BENCH_MEDIA_MB", "8"))
    concurrency = int(os.environ.get("BENCH_MEDIA_CONCURRENCY", "8"))
    size = megabytes * 1024 * 1024
    body = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(size - 11)
    elapsed, _, refused = await upload_all(url, body, files, concurrency)
    print(
        f"media uploads: {files} × {megabytes} MB at {concurrency} concurrent: "
        f"{files * megabytes / elapsed:.1f} MB/s ({files / elapsed:.1f} files/s), {refused} not accepted"
    )


if __name__ == "__main__":
    asyncio.run(main())
