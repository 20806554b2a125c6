"""What the SMTP tests of inbound email share: intake's SMTP server on a free port beside the real media API
(in-process, on the real PostgreSQL and S3), mail sent with smtplib, and the rows to look at afterwards.

Each test module wraps `media_storage` and `smtp_desk` in fixtures of its own (a fixture imported from here
would be an unused import to the linter)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import smtplib
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any

import asyncpg
from aiohttp.test_utils import TestServer
from minio import Minio
from PIL import Image

from intake.config import Settings
from intake.mail.server import close_desk, open_desk, start_server
from media.app import build_app as build_media_app
from media.config import Settings as MediaSettings
from paht_shared.sealing import generate_keypair
from paht_shared.testing import pii

OURS = "paht@soctrang.gov.vn"
SENDER = pii.EMAIL  # this session's reporter: the personal-data scan after the tests looks for it too
NAME = pii.FULL_NAME
SENTENCE = "Đường Lê Lợi ngập nước sau cơn mưa, rác thải tồn đọng trước chợ Sóc Trăng"


def photo(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buffer, "JPEG")
    return buffer.getvalue()


@dataclass(frozen=True)
class Stack:
    port: int  # intake's SMTP server
    intake: Settings
    media: MediaSettings

    async def rows(self, settings: Settings | MediaSettings, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": settings.db_schema})
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    async def reports(self) -> list[asyncpg.Record]:
        return await self.rows(self.intake, "SELECT * FROM reports ORDER BY submitted_at")

    async def events(self) -> list[dict[str, Any]]:
        rows = await self.rows(self.intake, "SELECT topic, payload FROM outbox ORDER BY id")
        return [{"topic": r["topic"], "raw": bytes(r["payload"]), **json.loads(r["payload"])} for r in rows]

    async def media_rows(self) -> list[asyncpg.Record]:
        return await self.rows(self.media, "SELECT id, size_bytes FROM media_objects")

    async def idempotency_keys(self) -> list[str]:
        return [r["key"] for r in await self.rows(self.intake, "SELECT key FROM idempotency_keys")]


def media_settings_for(admin_dsn: str, stack: dict[str, Any], schema: str) -> MediaSettings:
    """Media on its own schema and its own key prefix in the shared bucket."""
    return MediaSettings(
        database_url=admin_dsn,
        db_schema=schema,
        s3_endpoint=stack["s3_endpoint"],
        s3_access_key=stack["s3_access_key"],
        s3_secret_key=stack["s3_secret_key"],
        s3_bucket=stack["s3_bucket"],
        s3_key_prefix=f"test-{uuid.uuid4().hex[:12]}/",
    )


def remove_media_objects(settings: MediaSettings) -> None:
    s3 = Minio(settings.s3_endpoint, settings.s3_access_key, settings.s3_secret_key, secure=False)
    for obj in s3.list_objects(settings.s3_bucket, prefix=settings.s3_key_prefix, recursive=True):
        s3.remove_object(settings.s3_bucket, str(obj.object_name))


@asynccontextmanager
async def media_storage(admin_dsn: str, stack: dict[str, Any], schema: str) -> AsyncIterator[MediaSettings]:
    """Media's settings for one test (`media_settings_for`), and its objects removed from the bucket afterwards."""
    settings = media_settings_for(admin_dsn, stack, schema)
    try:
        yield settings
    finally:
        remove_media_objects(settings)


def mail_settings(intake: Settings, media_url: str, **overrides: Any) -> Settings:
    return intake.model_copy(
        update={
            "media_url": media_url,
            "mail_addresses": OURS,
            "mail_max_bytes": 2 * 1024 * 1024,
            "notify_public_key": generate_keypair()[1],  # the contact travels sealed, as in production
            **overrides,
        }
    )


@asynccontextmanager
async def smtp_desk(settings: Settings) -> AsyncIterator[int]:
    """Intake's SMTP server with these settings on a free port (its port), on the test's loop."""
    desk = await open_desk(settings)
    server = await start_server(desk, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()
        await close_desk(desk)


@asynccontextmanager
async def running_stack(intake: Settings, media: MediaSettings, **overrides: Any) -> AsyncIterator[Stack]:
    """The media API on a free port and intake's SMTP server using it (settings `overrides` for the test)."""
    async with TestServer(build_media_app(media)) as media_api:
        settings = mail_settings(intake, str(media_api.make_url("")).rstrip("/"), **overrides)
        async with smtp_desk(settings) as port:
            yield Stack(port, settings, media)


def free_port() -> int:
    """A port nothing listens on (yet): connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def send(port: int, raw: bytes, sender: str = SENDER, to: str = OURS) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        return client.sendmail(sender, [to], raw)


async def deliver(stack: Stack, raw: bytes, sender: str = SENDER, to: str = OURS) -> None:
    await asyncio.to_thread(send, stack.port, raw, sender, to)


async def answer(stack: Stack, raw: bytes, sender: str = SENDER) -> tuple[int, bytes]:
    """The SMTP answer to DATA, whatever it is (smtplib raises on anything but 250)."""

    def dialogue() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", stack.port, timeout=30) as client:
            client.ehlo()
            client.mail(sender)
            client.rcpt(OURS)
            return client.data(raw)

    return await asyncio.to_thread(dialogue)


def wire(msg: EmailMessage) -> bytes:
    """The message as it travels: CRLF line ends (aiosmtpd reads a LF-only message as one overlong line)."""
    return msg.as_bytes(policy=policy.SMTP)


def utf8_mail(
    body: str,
    subject: str = "Rác thải và ngập nước trước chợ",
    photos: tuple[bytes, ...] = (),
    sender: str = SENDER,
    name: str = NAME,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = formataddr((name, sender))
    msg["To"] = OURS
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4()}@example.vn>"
    msg.set_content(body)
    for n, data in enumerate(photos):
        msg.add_attachment(data, maintype="image", subtype="jpeg", filename=f"anh-{n}.jpg")
    return wire(msg)


def legacy_mail(
    subject: bytes, body: bytes, charset: str, photos: tuple[bytes, ...] = (), raw_subject: bool = True
) -> bytes:
    """A message as old Vietnamese mailers write it: the body 8-bit in `charset` (whatever the bytes really are);
    the subject in raw 8-bit bytes (`raw_subject`) or else an RFC 2047 encoded word of that charset."""
    encoded = subject if raw_subject else b"=?" + charset.encode() + b"?b?" + base64.b64encode(subject) + b"?="
    text_head = b"--b1\r\nContent-Type: text/plain; charset=" + charset.encode()
    parts = [text_head + b"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body + b"\r\n"]
    for n, data in enumerate(photos):
        parts.append(
            b'--b1\r\nContent-Type: image/jpeg\r\nContent-Disposition: attachment; filename="anh-%d.jpg"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n" % n + base64.encodebytes(data).replace(b"\n", b"\r\n")
        )
    head = (
        b"From: " + SENDER.encode() + b"\r\nTo: " + OURS.encode() + b"\r\nSubject: " + encoded + b"\r\n"
        b"Message-ID: <" + uuid.uuid4().hex.encode() + b"@legacy.example.vn>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
    )
    return head + b"".join(parts) + b"--b1--\r\n"
