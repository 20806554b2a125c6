"""make bench: the other channels into the running platform — hotline operators, Open311 and inbound email.

For each channel: requests per second at a fixed concurrency, the latency of the answer (201, or SMTP 250),
and how many of the accepted reports were stored by intake (all must be; each exactly once). Email carries
one photo per message, uploaded to the media service before the 250 as a real mail's attachment would be.
Bounded: BENCH_CHANNEL_REPORTS per channel (default 200) at BENCH_CONCURRENCY (default 20), loopback only.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import smtplib
import time
import uuid
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from PIL import Image

from paht_shared.auth import Role, mint_token
from paht_shared.testing.pii import caller_phone, sample_report

ROOT = Path(__file__).resolve().parents[1]
PAHT_ADDRESS = "paht@soctrang.gov.vn"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(total: int, concurrency: int, one: Callable[[int], Awaitable[None]]) -> tuple[list[float], float]:
    """`one(n)` for n in 0..total-1 on `concurrency` workers: each call's seconds, and the wall time."""
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(total):
        queue.put_nowait(n)

    async def worker() -> None:
        while not queue.empty():
            n = queue.get_nowait()
            started = time.perf_counter()
            await one(n)
            latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - began


def report(name: str, total: int, latencies: list[float], elapsed: float, stored: int) -> None:
    ms = [v * 1000 for v in latencies]
    print(
        f"{name:8}: {total / elapsed:6.1f} reports/s over {elapsed:5.1f} s; latency ms p50 {percentile(ms, 0.5):.1f}  "
        f"p95 {percentile(ms, 0.95):.1f}  max {max(ms):.1f}; stored {stored}/{total}"
    )


async def stored(admin_dsn: str, channel: str, since: float) -> int:
    conn = await asyncpg.connect(admin_dsn)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM intake.reports WHERE channel = $1 AND submitted_at >= to_timestamp($2)",
            channel,
            since,
        )
    finally:
        await conn.close()
    return count


async def hotline(intake: str, token: str, total: int, concurrency: int) -> tuple[list[float], float]:
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:

        async def one(n: int) -> None:
            body = sample_report(caller=500_000 + n)
            body.pop("channel")
            body["reporter"] = {"full_name": "Nguyễn Văn Bảy", "phone": caller_phone(500_000 + n)}
            body["emergency"] = n % 10 == 0
            async with http.post(
                f"{intake}/api/v1/operator/reports", json=body, headers=headers | {"Idempotency-Key": str(uuid.uuid4())}
            ) as resp:
                if resp.status != 201:
                    raise RuntimeError(f"hotline: unexpected {resp.status}: {await resp.text()}")

        return await run(total, concurrency, one)


async def open311(intake: str, admin_token: str, total: int, concurrency: int) -> tuple[list[float], float]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
        async with http.post(
            f"{intake}/api/v1/admin/open311-keys",
            json={"client": "bench"},
            headers={"Authorization": f"Bearer {admin_token}"},
        ) as resp:
            key = (await resp.json())["key"]

        async def one(n: int) -> None:
            form = {
                "api_key": key,
                "service_code": "chieu-sang",
                "description": "Đèn đường trước số 12 hỏng cả tuần, tối om, người đi đường dễ gặp nguy hiểm.",
                "lat": "9.6025",
                "long": "105.9739",
                "phone": caller_phone(600_000 + n),
                "public": "true",
            }
            async with http.post(f"{intake}/open311/v2/requests.json", data=form) as resp:
                if resp.status != 201:
                    raise RuntimeError(f"open311: unexpected {resp.status}: {await resp.text()}")

        return await run(total, concurrency, one)


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1024, 768), (40, 90, 160)).save(out, "JPEG", quality=85)
    return out.getvalue()


async def email(port: int, total: int, concurrency: int) -> tuple[list[float], float]:
    picture = photo()

    def send(n: int) -> None:
        message = EmailMessage()
        sender = f"bench.{n}.{uuid.uuid4().hex[:8]}@example.vn"  # the per-sender hourly limit is not what we measure
        message["From"] = sender
        message["To"] = PAHT_ADDRESS
        message["Subject"] = "Cống thoát nước bị tắc gây ngập đường"
        message["Message-ID"] = f"<{uuid.uuid4()}@example.vn>"
        message.set_content(
            "Cống thoát nước bị tắc nhiều ngày, mỗi khi mưa nước ngập cả đoạn đường.\n"
            "Lĩnh vực: Thoát nước, ngập úng\nPhường/Xã: Phú Lợi\n"
        )
        message.add_attachment(picture, maintype="image", subtype="jpeg", filename="anh.jpg")
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            smtp.send_message(message, from_addr=sender, to_addrs=[PAHT_ADDRESS])

    async def one(n: int) -> None:
        await asyncio.to_thread(send, n)

    return await run(total, concurrency, one)


async def main() -> None:
    stack: dict[str, Any] = json.loads((ROOT / ".infra" / "stack.json").read_text())
    secrets = json.loads((ROOT / ".infra" / "secrets.json").read_text())
    total = int(os.environ.get("BENCH_CHANNEL_REPORTS", "200"))
    concurrency = int(os.environ.get("BENCH_CONCURRENCY", "20"))
    intake = f"http://127.0.0.1:{stack['http_ports']['intake']}"
    smtp_port = int(os.environ.get("PAHT_INTAKE_SMTP_PORT") or 2525)
    signing_key = secrets["auth_signing_key"]
    print(f"channels: {total} reports per channel, concurrency {concurrency}, {os.cpu_count()} CPU cores")

    since = time.time() - 1
    latencies, elapsed = await hotline(
        intake, mint_token(signing_key, "bench-operator", Role.OPERATOR), total, concurrency
    )
    report("hotline", total, latencies, elapsed, await stored(stack["admin_dsn"], "hotline", since))

    since = time.time() - 1
    latencies, elapsed = await open311(intake, mint_token(signing_key, "bench-admin", Role.ADMIN), total, concurrency)
    report("open311", total, latencies, elapsed, await stored(stack["admin_dsn"], "open311", since))

    since = time.time() - 1
    latencies, elapsed = await email(smtp_port, total, concurrency)
    report("email", total, latencies, elapsed, await stored(stack["admin_dsn"], "email", since))


if __name__ == "__main__":
    asyncio.run(main())
