"""A real notify sender process killed (SIGKILL) after the mail server took the message and before the
sender recorded it: the next sender sends it again with the same Message-ID, and the log shows one delivery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiosmtpd.controller import Controller

from notify.config import Settings
from notify.consumers import AGENCY_EMAIL, subscriptions
from paht_shared.consumer import handle_once
from paht_shared.contracts import ReportStatus, ReportStatusChangedV1, topics
from paht_shared.db import create_pool
from paht_shared.envelope import Envelope, utc_now
from paht_shared.testing.kafka import wait_until
from paht_shared.testing.ports import free_port

WORKER = Path(__file__).with_name("notify_sender_worker.py")


class KillsTheSenderOnDelivery:
    """An SMTP server that, on the first message, kills the sending process (SIGKILL) and then says 250:
    the message arrived, the sender never learns it, so it cannot record `sent`."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.victim: subprocess.Popen[bytes] | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook
        self.messages.append(bytes(envelope.content))
        if self.victim is not None and len(self.messages) == 1:
            self.victim.send_signal(signal.SIGKILL)
            self.victim.wait(timeout=10)
        return "250 OK"


@pytest.fixture
async def schema(service_schema: Callable[[str], Awaitable[str]]) -> str:
    return await service_schema("notify")


@pytest.fixture
async def pool(admin_dsn: str, schema: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(admin_dsn, schema)
    yield pool
    await pool.close()


def start_sender(dsn: str, schema: str, port: int, abandoned: float, log: Path) -> subprocess.Popen[bytes]:
    args = [sys.executable, str(WORKER), dsn, schema, str(port), str(abandoned)]
    return subprocess.Popen(args, stdout=log.open("ab"), stderr=subprocess.STDOUT, env=os.environ.copy())


async def test_killed_between_send_and_record_the_resend_carries_the_same_message_id(
    admin_dsn: str, schema: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """The kill happened (exit status -9, the row still `sending` with the message already at the server);
    the next sender sends it again after the abandonment window: two copies, one Message-ID, one delivery."""
    change = ReportStatusChangedV1(
        report_id=uuid.uuid4(), sequence=1, status=ReportStatus.ASSIGNED, changed_at=utc_now(),
        tracking_code="PA-KILL2345", title="Cống bị nghẹt", category="cap-thoat-nuoc", agency_code="CAP-NUOC",
        agency_name="Công ty Cấp nước", agency_email="capnuoc@paht.example", due_at=utc_now(),
    )  # fmt: skip
    subscription = next(s for s in subscriptions(Settings()) if s.name == AGENCY_EMAIL)
    event = Envelope.of(change, "routing", "c")
    assert await handle_once(pool, AGENCY_EMAIL, event, topics.REPORT_STATUS_CHANGED, subscription.handle)
    handler = KillsTheSenderOnDelivery()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    log = tmp_path / "sender.log"
    try:
        handler.victim = start_sender(admin_dsn, schema, port, 600.0, log)

        async def killed() -> bool:
            return handler.victim is not None and handler.victim.poll() is not None

        await wait_until(killed, 60)
        assert handler.victim.returncode == -signal.SIGKILL  # the fault happened
        assert len(handler.messages) == 1  # ... after the mail server had the message
        assert await pool.fetchval("SELECT status FROM deliveries") == "sending"  # ... and before it was recorded

        survivor = start_sender(admin_dsn, schema, port, 0.5, log)
        try:

            async def sent() -> bool:
                return bool(await pool.fetchval("SELECT status FROM deliveries") == "sent")

            await wait_until(sent, 60)
        finally:
            survivor.send_signal(signal.SIGTERM)
            survivor.wait(timeout=30)
    finally:
        controller.stop()
    message_ids = [
        next(line for line in m.split(b"\r\n") if line.lower().startswith(b"message-id:")) for m in handler.messages
    ]
    assert len(message_ids) == 2
    assert message_ids[0] == message_ids[1]
    rows = await pool.fetch("SELECT status, attempts FROM deliveries")
    assert [(r["status"], r["attempts"]) for r in rows] == [("sent", 2)]
