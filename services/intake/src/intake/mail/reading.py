"""A raw message -> what a report needs from it: sender, title, content, attachments, Message-ID.

MIME with the standard library's `email` package (policy.default). Texts are decoded by charsets.py, not by
the package, because legacy Vietnamese mail declares the wrong charset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses
from html.parser import HTMLParser

from intake.mail.charsets import decode_text
from paht_shared.text import clean_name, is_person_name, normalize_text

MAX_ATTACHMENTS = 10  # what a report may carry
TITLE_MIN, TITLE_MAX = 5, 200
MEDIA_TYPES = ("image", "audio", "video")


class UnreadableMail(Exception):
    """The message cannot become a report; `cause` says why, in words for the sender's bounce."""

    def __init__(self, code: str, cause: str) -> None:
        super().__init__(code)
        self.code = code
        self.cause = cause


@dataclass(frozen=True)
class MailAttachment:
    filename: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class InboundMail:
    sender: str  # the reporter's address: the From header's, else the envelope's
    display_name: str | None  # a valid person's name from "Name <addr>", else None
    title: str
    content: str
    attachments: tuple[MailAttachment, ...]
    message_id: str | None
    charset: str  # how the body was read (for the log: "tcvn3", "vni", "utf-8", ...)
    skipped_attachments: int = 0  # beyond MAX_ATTACHMENTS or not media
    subject: str = ""  # as sent, "Re:" and all: a reply names its report's tracking code there
    body: str = ""  # the sender's own words, possibly none (`content` then takes the subject)


def parse_message(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)  # noqa: S101 - policy.default makes EmailMessage
    return message


def read_mail(message: EmailMessage, envelope_sender: str) -> InboundMail:
    sender, display_name = _sender(message, envelope_sender)
    body_bytes, body_charset, is_html = _body_part(message)
    decoded = decode_text(body_bytes, body_charset) if body_bytes else None
    body = "" if decoded is None else (html_to_text(decoded.text) if is_html else decoded.text)
    body = trim_reply(normalize_text(body))
    subject = _subject(message, body_charset)
    title = _title(subject, body)
    content = body or subject
    attachments, skipped = _attachments(message)
    if not title:
        raise UnreadableMail("no_text", "the message has neither a subject nor a text describing the problem")
    message_id = str(message.get("Message-ID", "")).strip() or None
    return InboundMail(
        sender,
        display_name,
        title,
        content,
        attachments,
        message_id,
        decoded.charset if decoded else "none",
        skipped,
        subject,
        body,
    )


# --- sender ------------------------------------------------------------------------------------------


def _sender(message: EmailMessage, envelope_sender: str) -> tuple[str, str | None]:
    raw_from = _header_text(message, "From", None)
    pairs = [(name, addr) for name, addr in getaddresses([raw_from]) if "@" in addr] if raw_from else []
    if pairs:
        name, address = pairs[0]
    else:
        name, address = "", envelope_sender
    if "@" not in address:
        raise UnreadableMail("no_sender", "the message has no sender address to send the tracking code to")
    display = clean_name(name.strip().strip('"'))
    return address.strip(), display if 2 <= len(display) <= 100 and is_person_name(display) else None


# --- headers -----------------------------------------------------------------------------------------

_FOLD = re.compile(r"\r?\n[ \t]+")


def _header_text(message: EmailMessage, name: str, hint: str | None) -> str:
    """A header as text, whatever its encoding: RFC 2047 encoded words in any charset, or raw 8-bit bytes
    (legacy mailers put TCVN3/VNI bytes straight into the Subject), read by charsets.py. `hint`: the body's
    declared charset, for raw bytes."""
    raw = next((value for key, value in message.raw_items() if key.lower() == name.lower()), None)
    if raw is None:
        return ""
    raw = _FOLD.sub(" ", str(raw))
    parts = []
    try:
        chunks = decode_header(raw)
    except ValueError:  # a malformed encoded word: take the header as it stands
        chunks = [(raw, None)]
    for chunk, charset in chunks:
        data = chunk if isinstance(chunk, bytes) else chunk.encode("ascii", "surrogateescape")
        parts.append(decode_text(data, charset or hint).text)
    return normalize_text(" ".join("".join(parts).split()))


def _subject(message: EmailMessage, hint: str | None) -> str:
    return _header_text(message, "Subject", hint)


_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|fw|fwd|tl|tr|aw|sv)\s*:\s*)+", re.IGNORECASE)


def _title(subject: str, body: str) -> str:
    """The cleaned subject; a subject too short to say anything gives way to the body's first line."""
    title = _REPLY_PREFIX.sub("", subject).strip()
    if len(title) < TITLE_MIN:
        first = next((line.strip() for line in body.splitlines() if len(line.strip()) >= TITLE_MIN), "")
        title = first or title
    if len(title) > TITLE_MAX:
        cut = title[: TITLE_MAX - 1]
        title = (cut.rsplit(" ", 1)[0] if " " in cut[TITLE_MAX // 2 :] else cut) + "…"
    return title if len(title) >= TITLE_MIN else ""


# --- body --------------------------------------------------------------------------------------------


def _body_part(message: EmailMessage) -> tuple[bytes, str | None, bool]:
    """(bytes, declared charset, is HTML) of the text the sender wrote: text/plain preferred, else HTML."""
    plain: Message | None = None
    html: Message | None = None
    for part in message.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        if part.get_content_type() == "text/plain" and plain is None:
            plain = part
        elif part.get_content_type() == "text/html" and html is None:
            html = part
    chosen = plain or html
    if chosen is None:
        return b"", None, False
    payload = chosen.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    return data, chosen.get_content_charset(), chosen is html


_SIGNATURE = re.compile(r"^-- ?$", re.MULTILINE)
# Where a quoted earlier message starts: "On Mon, ... wrote:", "Vào ... đã viết:", Outlook's separator.
_QUOTE_START = re.compile(r"^(?:On .{5,200} wrote:|Vào .{5,200} đã viết:|-{3,} ?Original Message ?-{3,})\s*$", re.M)


def trim_reply(text: str) -> str:
    """The sender's own words: without the signature, the quoted earlier message, or "> " lines."""
    for pattern in (_SIGNATURE, _QUOTE_START):
        match = pattern.search(text)
        if match is not None and match.start() > 0:
            text = text[: match.start()]
    lines = [line for line in text.splitlines() if not line.lstrip().startswith(">")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


class _TextOfHtml(HTMLParser):
    """Text of an HTML body: scripts, styles and the head left out; block elements become line breaks.
    Nothing is ever rendered or fetched; entities are decoded by the parser."""

    _SKIP = frozenset({"script", "style", "head", "title", "template", "noscript"})
    _BLOCK = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "ul", "ol", "hr"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --- attachments -------------------------------------------------------------------------------------


def _attachments(message: EmailMessage) -> tuple[tuple[MailAttachment, ...], int]:
    """Photos, audio and video (by their declared type; media checks the bytes), at most MAX_ATTACHMENTS."""
    found: list[MailAttachment] = []
    skipped = 0
    for part in message.walk():
        if part.is_multipart():
            continue
        if part.get_content_maintype() not in MEDIA_TYPES:
            if part.get_content_disposition() == "attachment":
                skipped += 1
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or not payload:
            continue
        if len(found) >= MAX_ATTACHMENTS:
            skipped += 1
            continue
        name = part.get_filename() or f"attachment-{len(found) + 1}"
        found.append(MailAttachment(name, part.get_content_type(), payload))
    return tuple(found), skipped
