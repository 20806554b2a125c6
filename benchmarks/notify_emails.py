"""make bench (notify part): emails per second out of the running notify sender into the SMTP sink.

Queues BENCH_EMAILS (default 2,000) agency emails as pending deliveries straight into notify's schema (what
the consumer records for a status change), then times the running sender (pooled, reused SMTP sessions)
until every one is `sent`.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]


def message(n: int, delivery_id: uuid.UUID) -> bytes:
    email = EmailMessage()
    email["From"] = "PAHT <no-reply@paht.example>"
    email["To"] = "bench@paht.example"
    email["Subject"] = f"[PAHT] Phản ánh mới PA-BENCH{n:05d}"
    email["Message-ID"] = f"<{delivery_id}@paht.bench>"
    email.set_content("Kính gửi quý cơ quan,\n\nHệ thống đã chuyển đến một phản ánh mới.\n" * 5)
    return email.as_bytes(policy=SMTP)


async def main() -> None:
    stack: dict[str, Any] = json.loads((ROOT / ".infra" / "stack.json").read_text())
    total = int(os.environ.get("BENCH_EMAILS", "2000"))
    conn = await asyncpg.connect(stack["admin_dsn"], server_settings={"search_path": "notify"})
    try:
        run = uuid.uuid4().hex[:8]
        rows = []
        for n in range(total):
            delivery_id = uuid.uuid4()
            rows.append(
                (delivery_id, uuid.uuid4(), f"bench-{run}", uuid.uuid4(), "email", "agency", "BENCH",
                 "bench@paht.example", f"PA-BENCH{n:05d}", f"<{delivery_id}@paht.bench>", message(n, delivery_id),
                 "pending", f"bench-{run}-{n}")
            )  # fmt: skip
        began = time.perf_counter()
        await conn.executemany(
            "INSERT INTO deliveries (id, event_id, correlation_id, report_id, channel, audience, agency_code, "
            "recipient, subject, message_id, message, status, dedupe_key) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            rows,
        )
        while True:
            left = await conn.fetchval(
                "SELECT count(*) FROM deliveries WHERE correlation_id = $1 AND status <> 'sent'", f"bench-{run}"
            )
            if left == 0:
                break
            await asyncio.sleep(0.2)
        elapsed = time.perf_counter() - began
    finally:
        await conn.close()
    print(f"notify emails: {total} agency emails sent in {elapsed:.1f} s: {total / elapsed:.0f} emails/s")


if __name__ == "__main__":
    asyncio.run(main())
