"""The citizens: reports submitted at a steady rate (open loop), photos uploaded alongside.

Each report has its own Idempotency-Key, caller phone and forwarded address; the client sends the same body
with the same key again after a refused connection or a 5xx, as a real app would, until it gets its 201.
Every answer is recorded with when it was asked and answered, so a fault's window can be looked at afterwards.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import io
import json
import secrets
import time
from dataclasses import dataclass, field

import aiohttp
from PIL import Image

from paht_shared.testing.pii import caller_headers, sample_report

CATEGORIES = ("giao-thong", "moi-truong", "dien-chieu-sang", "cap-thoat-nuoc", "khac")
GIVE_UP_SECONDS = 240.0  # longer than the longest fault (everything stopped and started again)
RETRY_PAUSE_SECONDS = 0.5
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=30)
CONNECTION_ERROR = 0  # the status recorded for a refused or dropped connection


@dataclass(frozen=True)
class Answer:
    asked: float  # time.monotonic()
    answered: float
    status: int  # HTTP status, or CONNECTION_ERROR


@dataclass
class Answers:
    """Every answer a load got, in the order they came."""

    log: list[Answer] = field(default_factory=list)

    def record(self, asked: float, status: int) -> None:
        self.log.append(Answer(asked, time.monotonic(), status))

    def by_status(self) -> collections.Counter[str]:
        return collections.Counter(
            "connection error" if a.status == CONNECTION_ERROR else str(a.status) for a in self.log
        )

    def count(self, status: int) -> int:
        return sum(1 for a in self.log if a.status == status)

    def slowest(self, status: int) -> float:
        return max((a.answered - a.asked for a in self.log if a.status == status), default=0.0)

    def first_after(self, moment: float, status: int = 201) -> float | None:
        """When the first request asked at or after `moment` got `status`."""
        return min((a.answered for a in self.log if a.asked >= moment and a.status == status), default=None)


class ReportLoad:
    """Submits CHAOS_RATE reports per second until stopped; `acknowledged` maps each 201's report id to its key."""

    def __init__(self, url: str, rate: float) -> None:
        self._url = f"{url}/api/v1/reports"
        self._rate = rate
        self._base = 1_000_000 + secrets.randbelow(8_000_000)  # fresh phones and addresses: intake limits per hour
        self._stopping = asyncio.Event()
        self.answers = Answers()
        self.acknowledged: dict[str, str] = {}  # report id -> Idempotency-Key
        self.submitted = 0
        self.gave_up = 0
        self.client_errors: collections.Counter[int] = collections.Counter()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        began = time.monotonic()
        tasks: list[asyncio.Task[None]] = []
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200), timeout=REQUEST_TIMEOUT) as http:
            while not self._stopping.is_set():
                tasks.append(asyncio.create_task(self._citizen(http, self.submitted)))
                self.submitted += 1
                delay = began + self.submitted / self._rate - time.monotonic()
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), delay)
            await asyncio.gather(*tasks)

    async def _citizen(self, http: aiohttp.ClientSession, n: int) -> None:
        caller = self._base + n
        headers = caller_headers(caller)  # one key for every retry
        body = sample_report(category=CATEGORIES[n % len(CATEGORIES)], caller=caller)
        deadline = time.monotonic() + GIVE_UP_SECONDS
        while time.monotonic() < deadline:
            asked = time.monotonic()
            try:
                async with http.post(self._url, json=body, headers=headers) as resp:
                    payload = await resp.read()
                    self.answers.record(asked, resp.status)
                    if resp.status == 201:
                        self.acknowledged[str(json.loads(payload)["id"])] = headers["Idempotency-Key"]
                        return
                    if resp.status < 500:
                        self.client_errors[resp.status] += 1  # a refusal the client cannot fix by retrying
                        return
            except (aiohttp.ClientError, TimeoutError):
                self.answers.record(asked, CONNECTION_ERROR)
            await asyncio.sleep(RETRY_PAUSE_SECONDS)
        self.gave_up += 1


def small_photo(n: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (n % 256, 120, 60)).save(out, "JPEG")
    return out.getvalue()


class MediaLoad:
    """Uploads a small photo `rate` times per second until stopped, retrying after a 5xx or a dropped
    connection; `acknowledged` holds the id of every 201."""

    def __init__(self, url: str, rate: float) -> None:
        self._url = f"{url}/api/v1/media"
        self._rate = rate
        self._stopping = asyncio.Event()
        self.answers = Answers()
        self.acknowledged: list[str] = []
        self.submitted = 0
        self.gave_up = 0
        self.client_errors: collections.Counter[int] = collections.Counter()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        began = time.monotonic()
        tasks: list[asyncio.Task[None]] = []
        async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as http:
            while not self._stopping.is_set():
                tasks.append(asyncio.create_task(self._upload(http, self.submitted)))
                self.submitted += 1
                delay = began + self.submitted / self._rate - time.monotonic()
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), delay)
            await asyncio.gather(*tasks)

    async def _upload(self, http: aiohttp.ClientSession, n: int) -> None:
        photo = small_photo(n)
        deadline = time.monotonic() + GIVE_UP_SECONDS
        while time.monotonic() < deadline:
            form = aiohttp.FormData()
            form.add_field("file", photo, filename="anh.jpg", content_type="image/jpeg")
            asked = time.monotonic()
            try:
                async with http.post(self._url, data=form) as resp:
                    payload = await resp.read()
                    self.answers.record(asked, resp.status)
                    if resp.status == 201:
                        self.acknowledged.append(str(json.loads(payload)["id"]))
                        return
                    if resp.status < 500:
                        self.client_errors[resp.status] += 1
                        return
            except (aiohttp.ClientError, TimeoutError):
                self.answers.record(asked, CONNECTION_ERROR)
            await asyncio.sleep(RETRY_PAUSE_SECONDS)
        self.gave_up += 1
