"""The sender: takes recorded deliveries and hands each to the mail server at most once.

Why a step of its own: sending inside the consumer's transaction meant that a database crash between the
mail server's "250 accepted" and the COMMIT rolled the delivery back, the event came again, and the agency
got the email twice. Here a delivery is first claimed (`sending`, committed), then sent, then marked `sent`
with its notification.sent event. If the database fails after the send, the sender keeps trying to record
it; if the sender itself dies mid-send, the row stays `sending` and is later marked `unknown` for a person
to check — never sent again on its own. A mail server that is away (refused connection, 4xx) put nothing
through: the delivery goes back to `pending` with a growing pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping

import asyncpg
import structlog
from prometheus_client import Counter

from notify import repository
from notify.channels import Channel, Outgoing, Rejected, Unavailable
from notify.citizens import SEALED_BODY, body_context, recipient_context
from notify.config import Settings
from notify.domain import DeliveryStatus, PendingDelivery
from notify.service import record_sent
from paht_shared.failures import is_dependency_failure
from paht_shared.sealing import open_sealed

log = structlog.get_logger("notify.sender")

OUTCOMES = Counter("paht_notify_deliveries_total", "Delivery attempts by outcome", ["channel", "outcome"])
MAX_PAUSE_SECONDS = 300.0


class DeliverySender:
    """A worker of the consume process (shares its pool, signals and /readyz)."""

    def __init__(self, pool: asyncpg.Pool, channels: Mapping[str, Channel], settings: Settings) -> None:
        self._pool = pool
        self._channels = channels
        self._settings = settings
        self._stopping = asyncio.Event()
        self._next_expiry = 0.0
        # per channel (None: all of them), a claim whose COMMIT did not answer
        self._unconfirmed_claims: dict[str | None, uuid.UUID] = {}
        self.last_progress = time.monotonic()
        # Since when the mail server has been refusing every attempt; /readyz fails once it is too long ago.
        self.retrying_since: float | None = None

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """One loop per channel: a batch waits for its slowest send, and SMS held to the gateway's rate must not
        hold back the emails claimed with them (at 5 SMS/s they did: ~11 deliveries/s in all, whatever the mix)."""
        log.info("sender_started")
        await asyncio.gather(*(self._run_channel(name) for name in list(self._channels)))
        log.info("sender_stopped")

    async def _run_channel(self, channel: str) -> None:
        while not self._stopping.is_set():
            self.last_progress = time.monotonic()
            try:
                await self._expire_abandoned()
                sent = await self.send_due(channel)
            except Exception as exc:
                if not is_dependency_failure(exc):
                    raise
                log.warning("sender_database_unavailable", error=type(exc).__name__)
                await self._pause(1.0)
                continue
            if sent == 0:
                await self._pause(self._settings.sender_poll_seconds)

    async def send_due(self, channel: str | None = None) -> int:
        """Claim the deliveries that are due (on `channel`, or on every channel) and send each; returns how many
        were claimed."""
        unconfirmed = self._unconfirmed_claims.get(channel)
        if unconfirmed is None:
            claim_id = self._unconfirmed_claims[channel] = uuid.uuid4()
            async with self._pool.acquire() as conn, conn.transaction():
                claimed = await repository.claim_due(conn, self._settings.sender_batch_size, claim_id, channel)
        else:
            # The last claim's COMMIT answer was lost with the connection: it may or may not have claimed rows.
            # Any still `sending` under it were claimed by this process and not sent yet, so sending is safe.
            async with self._pool.acquire() as conn:
                claimed = await repository.claimed_under(conn, unconfirmed)
            if claimed:
                log.info("unconfirmed_claim_recovered", deliveries=len(claimed))
        del self._unconfirmed_claims[channel]
        # From here each one is `sending` in the database: whatever happens next, it is not sent twice.
        # Concurrently: the channels bound how many go at once (the SMTP pool's sessions, a gateway's rate).
        await asyncio.gather(*(self._deliver(delivery) for delivery in claimed))
        return len(claimed)

    async def _deliver(self, delivery: PendingDelivery) -> None:
        try:
            await self._channels[delivery.channel].send(self._outgoing(delivery))
        except Rejected as exc:
            reason = str(exc) or "refused"
            await self._record(lambda conn: repository.mark_failed(conn, delivery.id, reason))
            self._outcome(delivery, DeliveryStatus.FAILED)
            log.error("delivery_refused", delivery_id=str(delivery.id), channel=delivery.channel)
            return
        except Unavailable as exc:
            await self._retry_later(delivery, type(exc.__cause__ or exc).__name__, exc.retry_after)
            return
        except Exception as exc:  # noqa: BLE001 - classified: the server away, or an outcome we cannot know
            error = type(exc).__name__
            if is_dependency_failure(exc):
                await self._retry_later(delivery, error, None)
                return
            # Neither accepted nor refused for sure: do not guess, a person decides.
            await self._record(lambda conn: repository.mark_unknown(conn, delivery.id, error))
            self._outcome(delivery, DeliveryStatus.UNKNOWN)
            log.error("delivery_outcome_unknown", delivery_id=str(delivery.id), error=error)
            return
        self.retrying_since = None
        await self._record(lambda conn: record_sent(conn, delivery))
        self._outcome(delivery, DeliveryStatus.SENT)
        log.info("delivery_sent", delivery_id=str(delivery.id), channel=delivery.channel)

    def _outgoing(self, delivery: PendingDelivery) -> Outgoing:
        """What the channel sends: a citizen's address opened only now (never stored in clear); their email gets
        its To: header here for the same reason."""
        recipient, body = delivery.recipient, delivery.message
        if delivery.recipient_sealed is not None:
            key = self._settings.contact_private_key
            if key is None:
                raise RuntimeError("a citizen's delivery without the contact key configured")
            recipient = open_sealed(key, delivery.recipient_sealed, recipient_context(delivery.id)).decode()
            if body.startswith(SEALED_BODY):
                body = open_sealed(key, body[len(SEALED_BODY) :].decode(), body_context(delivery.id))
            if delivery.channel == "email":
                body = b"To: " + recipient.encode() + b"\r\n" + body
        return Outgoing(delivery.id, delivery.channel, recipient, delivery.subject, body)  # type: ignore[arg-type]

    async def _retry_later(self, delivery: PendingDelivery, error: str, retry_after: float | None) -> None:
        """The server or gateway is away: again after a doubling pause with jitter (many deliveries waiting
        for one server do not all come back at the same instant), or failed for good after max_attempts."""
        if delivery.attempts >= self._settings.max_attempts:
            reason = f"gave up after {delivery.attempts} attempts: {error}"
            await self._record(lambda conn: repository.mark_failed(conn, delivery.id, reason))
            self._outcome(delivery, DeliveryStatus.FAILED)
            log.error(
                "delivery_given_up", delivery_id=str(delivery.id), channel=delivery.channel, attempts=delivery.attempts
            )
            return
        self.retrying_since = self.retrying_since or time.monotonic()
        backoff = self._settings.sender_retry_backoff_seconds * 2 ** min(delivery.attempts, 10)
        pause = min(MAX_PAUSE_SECONDS, max(retry_after or 0.0, backoff * random.uniform(0.5, 1.5)))  # noqa: S311 - jitter
        await self._record(lambda conn: repository.release(conn, delivery.id, error, pause))
        self._outcome(delivery, DeliveryStatus.PENDING)
        log.warning(
            "channel_unavailable", delivery_id=str(delivery.id), channel=delivery.channel, error=error, retry_in=pause
        )

    async def _record(self, change: Callable[[asyncpg.Connection], Awaitable[None]]) -> None:
        """Write what happened, waiting out a database outage: the outcome is known and must not be lost."""
        delay = 0.5
        while True:
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    await change(conn)
                return
            except Exception as exc:
                if not is_dependency_failure(exc):
                    raise
                self.last_progress = time.monotonic()
                log.warning("delivery_outcome_waiting_for_database", error=type(exc).__name__, retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(5.0, delay * 2)

    async def _expire_abandoned(self) -> None:
        """Rows a dead sender left `sending` (long past any send timeout) go out again as they are: the same
        Message-ID and idempotency key, so the mail system or gateway can tell it is the same message."""
        now = time.monotonic()
        if now < self._next_expiry:
            return
        self._next_expiry = now + min(60.0, self._settings.sender_abandoned_seconds)
        async with self._pool.acquire() as conn:
            abandoned = await repository.resend_abandoned(conn, self._settings.sender_abandoned_seconds)
        for delivery_id in abandoned:
            OUTCOMES.labels("any", "resent").inc()
            log.warning("delivery_resent_after_crash", delivery_id=str(delivery_id))

    def _outcome(self, delivery: PendingDelivery, status: DeliveryStatus) -> None:
        OUTCOMES.labels(delivery.channel, status.value).inc()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
