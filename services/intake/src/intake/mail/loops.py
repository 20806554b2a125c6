"""Mail we must never answer: automatic replies, bounces, mailing lists, our own mail; and robots that flood.

Every report made from an email gets one automatic reply (notify). A message that a machine sent in answer to
another would start a loop: out-of-office reply -> report -> our reply -> out-of-office reply... Such messages
are accepted (250, so that nobody retries or bounces them) and dropped. The per-sender limit is the backstop for
robots that mark nothing.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Callable, Iterable
from email.message import EmailMessage
from email.utils import getaddresses

# RFC 3834 Auto-Submitted, and the headers of the common autoresponders (Exchange, vacation programs).
_AUTO_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress")
_BULK_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
_LIST_HEADERS = ("List-Id", "List-Unsubscribe")
# Mailboxes of mail systems and of senders that do not read replies.
_ROBOT_LOCAL_PARTS = frozenset(
    {"mailer-daemon", "postmaster", "noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "bounce",
     "bounces"}
)  # fmt: skip


def automatic_reason(envelope_sender: str, message: EmailMessage, own_addresses: Iterable[str]) -> str | None:
    """Why `message` must not become a report (a short code for the log), or None when a person sent it."""
    if envelope_sender.strip() in ("", "<>"):  # aiosmtpd keeps MAIL FROM:<> as "<>"
        return "null_sender"  # MAIL FROM:<> : a bounce or another delivery status notification
    auto_submitted = str(message.get("Auto-Submitted", "")).strip().lower()
    if auto_submitted and auto_submitted.split(";")[0].strip() != "no":
        return "auto_submitted"
    for header in _AUTO_HEADERS:
        if header in message:
            return "autoresponder_header"
    if str(message.get("Precedence", "")).strip().lower() in _BULK_PRECEDENCE:
        return "bulk_precedence"
    for header in _LIST_HEADERS:
        if header in message:
            return "mailing_list"
    if message.get_content_type() == "multipart/report":
        return "delivery_report"
    own = {a.strip().lower() for a in own_addresses}
    senders = [envelope_sender] + [addr for _name, addr in getaddresses([str(message.get("From", ""))])]
    for sender in senders:
        address = sender.strip().lower()
        if address in own:
            return "own_address"
        local = address.rpartition("@")[0] or address
        if local in _ROBOT_LOCAL_PARTS or local.startswith(("noreply", "no-reply", "mailer-daemon")):
            return "robot_sender"
    return None


class SenderLimiter:
    """At most `per_hour` reports from one sender address in any hour (this process's memory).

    The address is kept only as a hash. One process serves inbound mail, so the count is the service's."""

    def __init__(self, per_hour: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._per_hour = per_hour
        self._clock = clock
        self._sent: dict[bytes, deque[float]] = {}

    def allow(self, sender: str) -> bool:
        """Counts this message when allowed; a refused one does not count."""
        now = self._clock()
        key = hashlib.sha256(sender.strip().lower().encode()).digest()
        times = self._sent.setdefault(key, deque())
        while times and times[0] <= now - 3600:
            times.popleft()
        if len(times) >= self._per_hour:
            return False
        times.append(now)
        if len(self._sent) > 100_000:  # forget idle senders so that the map cannot grow without bound
            self._sent = {k: v for k, v in self._sent.items() if v and v[-1] > now - 3600}
        return True

    def forget_last(self, sender: str) -> None:
        """Give back the count of a message that did not become a report after all (refused, failed)."""
        key = hashlib.sha256(sender.strip().lower().encode()).digest()
        times = self._sent.get(key)
        if times:
            times.pop()
