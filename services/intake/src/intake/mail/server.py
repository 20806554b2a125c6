"""The SMTP server of inbound email (aiosmtpd): RCPT accepts only our addresses, DATA makes the report.

DATA, in order: parse -> loop check -> read -> already received? -> per-sender limit -> a reply to one of the
sender's reports? (then it completes that report) -> validate -> upload the attachments -> submit (report and
event in one transaction). The SMTP answer says what happened:

- 250: a report was made or completed, or the message was a duplicate or an automatic one (nothing stored);
- 450/451: try again later (a sender over its hourly limit; the database or media service unavailable);
- 550/554: never (relaying, an unreadable message, one that cannot be a report), with the cause.

Logs carry reasons, counts and ids, never an address, a name, a subject or a text.
"""

from __future__ import annotations

import asyncio
import hashlib
import signal
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import aiohttp
import asyncpg
import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session
from pydantic import ValidationError

from intake import repository, tracking
from intake.app import make_vault, reception, tenant_area
from intake.config import Settings
from intake.mail.loops import SenderLimiter, automatic_reason
from intake.mail.media_upload import MediaUnavailable, upload_attachments
from intake.mail.reading import InboundMail, UnreadableMail, parse_message, read_mail
from intake.mail.replies import reply_text, tracking_code_in
from intake.mail.structured import StructuredLines, read_structured
from intake.mail.submission import refusal_cause, submission
from intake.models import ChannelReport
from intake.service import IdempotencyKeyReused, PersonalDataVault, Reception, submit_report
from intake.validation import COMPLETABLE, CheckedReport, InvalidRequest, TenantArea, check_submission
from paht_shared.envelope import utc_now
from paht_shared.failures import is_dependency_failure
from paht_shared.runtime import open_pool

log = structlog.get_logger("intake.mail")

RETRY_LATER = "451 4.3.0 Temporary failure, please try again later"


@dataclass(frozen=True)
class MailDesk:
    """What the SMTP handler works with, opened once per process."""

    settings: Settings
    pool: asyncpg.Pool
    http: aiohttp.ClientSession
    vault: PersonalDataVault
    tenant: TenantArea
    reception: Reception
    limiter: SenderLimiter

    @property
    def addresses(self) -> frozenset[str]:
        return our_addresses(self.settings)


def our_addresses(settings: Settings) -> frozenset[str]:
    return frozenset(a.strip().lower() for a in settings.mail_addresses.split(",") if a.strip())


async def open_desk(settings: Settings) -> MailDesk:
    pool = await open_pool(settings, settings.db_schema, min_size=1, max_size=4)
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=settings.media_timeout_seconds))
    return MailDesk(
        settings,
        pool,
        http,
        make_vault(settings),
        tenant_area(settings),
        reception(settings),
        SenderLimiter(settings.mail_per_sender_per_hour),
    )


async def close_desk(desk: MailDesk) -> None:
    await desk.http.close()
    await desk.pool.close()


def idempotency_key(message_id: str | None, raw: bytes) -> str:
    """The same message delivered again (an MTA's retry, a second MX) has the same key: one report.
    Without a Message-ID, the same bytes are the same message."""
    if message_id:
        return "email:" + hashlib.sha256(message_id.encode("utf-8", "surrogateescape")).hexdigest()
    return "email-body:" + hashlib.sha256(raw).hexdigest()


class MailHandler:
    """aiosmtpd's handler: its hook names are its own (handle_RCPT, handle_DATA)."""

    def __init__(self, desk: MailDesk) -> None:
        self.desk = desk

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, _server: SMTP, _session: Session, envelope: Envelope, address: str, _options: list[str]
    ) -> str:
        if address.strip().lower() not in self.desk.addresses:
            log.info("mail_recipient_refused")
            return "550 5.7.1 Relaying denied: no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        correlation_id = str(uuid.uuid4())
        with structlog.contextvars.bound_contextvars(correlation_id=correlation_id):
            try:
                return await self._receive(envelope, correlation_id)
            except Exception as exc:
                if is_dependency_failure(exc):
                    log.warning("mail_deferred", reason="dependency_unavailable", error=type(exc).__name__)
                else:
                    # A bug must not lose the citizen's report: the sender's server keeps it and retries.
                    log.exception("mail_failed", error=type(exc).__name__)
                return RETRY_LATER

    async def _receive(self, envelope: Envelope, correlation_id: str) -> str:
        desk = self.desk
        content: Any = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else str(content).encode("utf-8", "surrogateescape")
        envelope_sender = "" if envelope.mail_from in (None, "<>") else str(envelope.mail_from)
        try:
            message = parse_message(raw)
        except (ValueError, LookupError, IndexError):
            log.info("mail_refused", reason="unparseable")
            return "554 5.6.0 The message cannot be read as email"
        reason = automatic_reason(envelope_sender, message, desk.addresses)
        if reason is not None:
            log.info("mail_ignored", reason=reason, size=len(raw))
            return "250 2.0.0 Automatic message accepted; it is not answered"
        try:
            mail = read_mail(message, envelope_sender)
        except UnreadableMail as exc:
            log.info("mail_refused", reason=exc.code)
            return f"550 5.6.0 Not accepted as a report: {exc.cause}"
        except (ValueError, LookupError, IndexError):
            log.info("mail_refused", reason="unreadable_mime")
            return "554 5.6.0 The message cannot be read as email"
        key = idempotency_key(mail.message_id, raw)
        if await _already_received(desk.pool, key):
            log.info("mail_duplicate")
            return "250 2.0.0 Already received"
        if not desk.limiter.allow(mail.sender):
            log.info("mail_deferred", reason="sender_hourly_limit")
            return "450 4.7.1 Too many messages from this sender in the last hour, please try again later"
        code = tracking_code_in(mail.subject)
        if code is not None:
            answer = await self._add_to_report(code, mail, key, correlation_id)
            if answer is not None:
                return answer
        return await self._make_report(mail, message, key, correlation_id)

    async def _add_to_report(self, code: str, mail: InboundMail, key: str, correlation_id: str) -> str | None:
        """A reply naming a report of this sender: the information it waits for, never a second report.
        None when the code is unknown or the report is someone else's: the message is then an ordinary new one
        (nobody adds to another's report, and the answer does not tell whether the code exists)."""
        desk = self.desk
        lines = read_structured(mail.body, desk.tenant.ward_names)
        text = reply_text(mail.body, lines, desk.tenant, len(mail.attachments))

        async def record_key(conn: asyncpg.Connection, report_id: uuid.UUID) -> None:
            sealed = desk.vault.cipher.encrypt(str(report_id), f"idempotency_keys.response:{key}")
            digest = hashlib.sha256(f"information:{report_id}".encode()).digest()
            if not await repository.claim_idempotency_key(conn, key, digest, report_id, sealed):
                raise _AlreadyReceived

        try:
            report_id = await tracking.provide_information_by_reporter(
                desk.pool, desk.vault, code, mail.sender, text, correlation_id, record_key
            )
        except tracking.ReportNotFound:
            log.info("mail_reply_not_matched")
            return None
        except _AlreadyReceived:
            log.info("mail_duplicate", reason="message_id_reused")
            return "250 2.0.0 Already received"
        except tracking.ActionNotAllowed as exc:
            desk.limiter.forget_last(mail.sender)
            if exc.code == "not_triaged_yet":  # routing is about to ask: the retry finds the request open
                log.info("mail_deferred", reason="reply_before_triage")
                return RETRY_LATER
            log.info("mail_refused", reason="reply_not_awaited")
            return (
                "550 5.7.0 Not added: the report named in the subject is not waiting for more information;"
                " follow it on the tracking page"
            )
        except ValidationError:
            desk.limiter.forget_last(mail.sender)
            log.info("mail_refused", reason="reply_without_text")
            return (
                "550 5.6.0 Not added to the report: the reply has no text of its own;"
                " write the missing details above the quoted message"
            )
        except Exception:
            desk.limiter.forget_last(mail.sender)
            raise
        log.info(
            "mail_information_provided",
            report_id=str(report_id),
            charset=mail.charset,
            key_lines=sum(x is not None for x in (lines.ward_name, lines.address_text, lines.category)),
            attachments_not_attached=len(mail.attachments),
        )
        return "250 2.0.0 Information added to the report"

    async def _make_report(self, mail: InboundMail, message: EmailMessage, key: str, correlation_id: str) -> str:
        desk = self.desk
        lines = read_structured(mail.content, desk.tenant.ward_names)
        try:
            checked = self._check(mail, lines, [])  # before uploading: a refused message uploads nothing
            media = await upload_attachments(desk.http, desk.settings.media_url, mail.attachments, correlation_id)
            if media:
                checked = self._check(mail, lines, media)
            receipt, replayed = await submit_report(desk.pool, desk.vault, checked, key, correlation_id, desk.reception)
        except InvalidRequest as exc:
            desk.limiter.forget_last(mail.sender)
            log.info("mail_refused", reason="invalid", errors=[f"{e['field']}:{e['code']}" for e in exc.errors])
            return f"550 5.6.0 Not accepted as a report: {refusal_cause(exc.errors)}"
        except MediaUnavailable as exc:
            desk.limiter.forget_last(mail.sender)
            log.warning("mail_deferred", reason="media_unavailable", error=str(exc))
            return RETRY_LATER
        except IdempotencyKeyReused:
            # The same Message-ID arrived again with other bytes (or at the same moment): one report per message.
            log.info("mail_duplicate", reason="message_id_reused")
            return "250 2.0.0 Already received"
        except Exception:
            desk.limiter.forget_last(mail.sender)
            raise
        log.info(
            "mail_report_created",
            report_id=str(receipt.id),
            replayed=replayed,
            charset=mail.charset,
            attachments=len(checked.cmd.media),
            attachments_skipped=mail.skipped_attachments + len(mail.attachments) - len(checked.cmd.media),
            missing=list(checked.missing),
            multipart=message.is_multipart(),
        )
        return "250 2.0.0 Report received; the tracking code follows by email"

    def _check(self, mail: InboundMail, lines: StructuredLines, media: list[dict[str, str]]) -> CheckedReport:
        tenant = self.desk.tenant
        try:
            return check_submission(submission(mail, lines, media), tenant, utc_now(), ChannelReport, COMPLETABLE)
        except InvalidRequest as exc:
            if not any(e["field"] == "reporter.full_name" for e in exc.errors):
                raise
        # The display name was not a name after all: the report goes on without it.
        raw = submission(mail, lines, media, with_name=False)
        return check_submission(raw, tenant, utc_now(), ChannelReport, COMPLETABLE)


class _AlreadyReceived(Exception):
    """Another delivery of the same message recorded its key first (its transaction is rolled back)."""


async def _already_received(pool: asyncpg.Pool, key: str) -> bool:
    async with pool.acquire() as conn:
        return await repository.find_idempotency_key(conn, key) is not None


async def start_server(desk: MailDesk, host: str, port: int) -> asyncio.Server:
    """An SMTP server on the running loop (the pool and HTTP session live there too)."""
    loop = asyncio.get_running_loop()
    hostname = next(iter(sorted(desk.addresses)), "localhost").rpartition("@")[2] or "localhost"
    handler = MailHandler(desk)

    def protocol() -> SMTP:
        return SMTP(
            handler,
            data_size_limit=desk.settings.mail_max_bytes,
            hostname=hostname,
            ident="PAHT intake",
            loop=loop,
        )

    return await loop.create_server(protocol, host, port)


async def serve(settings: Settings) -> None:
    """`python -m intake smtp`: serve until SIGTERM/SIGINT."""
    desk = await open_desk(settings)
    server = await start_server(desk, settings.smtp_host, settings.smtp_port)
    log.info("smtp_listening", port=settings.smtp_port, addresses=len(desk.addresses))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()
        await close_desk(desk)
