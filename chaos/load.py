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
from typing import Any

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


class SteadyLoad:
    """Sends one request `rate` times per second until stopped, each retried (with the same request, so the
    same Idempotency-Key) after a 5xx or a dropped connection until it is answered; subclasses say what a
    request is (`_post`) and what an acknowledgement keeps (`_acknowledge`)."""

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._stopping = asyncio.Event()
        self.answers = Answers()
        self.submitted = 0
        self.gave_up = 0
        self.client_errors: collections.Counter[int] = collections.Counter()

    def stop(self) -> None:
        self._stopping.set()

    def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(timeout=REQUEST_TIMEOUT)

    async def run(self) -> None:
        began = time.monotonic()
        tasks: list[asyncio.Task[None]] = []
        async with self._session() as http:
            while not self._stopping.is_set():
                tasks.append(asyncio.create_task(self._until_answered(http, self.submitted)))
                self.submitted += 1
                delay = began + self.submitted / self._rate - time.monotonic()
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), delay)
            await asyncio.gather(*tasks)

    async def _until_answered(self, http: aiohttp.ClientSession, n: int) -> None:
        deadline = time.monotonic() + GIVE_UP_SECONDS
        while time.monotonic() < deadline:
            asked = time.monotonic()
            try:
                async with self._post(http, n) as resp:
                    payload = await resp.read()
                    self.answers.record(asked, resp.status)
                    if resp.status == 201:
                        self._acknowledge(n, json.loads(payload))
                        return
                    if resp.status < 500:
                        self.client_errors[resp.status] += 1  # a refusal the client cannot fix by retrying
                        return
            except (aiohttp.ClientError, TimeoutError):
                self.answers.record(asked, CONNECTION_ERROR)
            await asyncio.sleep(RETRY_PAUSE_SECONDS)
        self.gave_up += 1

    def _post(self, http: aiohttp.ClientSession, n: int) -> Any:
        raise NotImplementedError

    def _acknowledge(self, n: int, answer: dict[str, Any]) -> None:
        raise NotImplementedError


class ReportLoad(SteadyLoad):
    """Submits CHAOS_RATE reports per second until stopped; `acknowledged` maps each 201's report id to its key."""

    def __init__(self, url: str, rate: float) -> None:
        super().__init__(rate)
        self._url = f"{url}/api/v1/reports"
        self._base = 1_000_000 + secrets.randbelow(8_000_000)  # fresh phones and addresses: intake limits per hour
        self.acknowledged: dict[str, str] = {}  # report id -> Idempotency-Key
        self._pending: dict[int, tuple[dict[str, object], dict[str, str]]] = {}  # n -> (body, headers) until a 201

    def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200), timeout=REQUEST_TIMEOUT)

    def _post(self, http: aiohttp.ClientSession, n: int) -> Any:
        if n not in self._pending:  # drawn once: every retry of the n-th report sends the same key
            caller = self._base + n
            self._pending[n] = (sample_report(category=CATEGORIES[n % len(CATEGORIES)], caller=caller),
                                caller_headers(caller))  # fmt: skip
        body, headers = self._pending[n]
        return http.post(self._url, json=body, headers=headers)

    def _acknowledge(self, n: int, answer: dict[str, Any]) -> None:
        _, headers = self._pending.pop(n)
        self.acknowledged[str(answer["id"])] = headers["Idempotency-Key"]


def small_photo(n: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (n % 256, 120, 60)).save(out, "JPEG")
    return out.getvalue()


class MediaLoad(SteadyLoad):
    """Uploads a small photo `rate` times per second until stopped; `acknowledged` holds the id of every 201."""

    def __init__(self, url: str, rate: float) -> None:
        super().__init__(rate)
        self._url = f"{url}/api/v1/media"
        self.acknowledged: list[str] = []

    def _post(self, http: aiohttp.ClientSession, n: int) -> Any:
        form = aiohttp.FormData()
        form.add_field("file", small_photo(n), filename="anh.jpg", content_type="image/jpeg")
        return http.post(self._url, data=form)

    def _acknowledge(self, n: int, answer: dict[str, Any]) -> None:
        self.acknowledged.append(str(answer["id"]))
