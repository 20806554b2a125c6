"""Pure media rules and value objects: what a file really is, how big it may be. No I/O.

The type comes from the file's first bytes, never from its name or the client's Content-Type.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict

Kind = Literal["image", "video", "audio"]

SNIFF_BYTES = 64  # every signature on the allow-list sits in the first 12 bytes; 64 leaves room


class EmptyFile(Exception):
    """The upload has no bytes."""


class UnsupportedMediaType(Exception):
    """The first bytes are not a photo, video or audio format on the allow-list."""


class FileTooLarge(Exception):
    """The upload passed the size limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


class MediaNotFound(Exception):
    """No stored media object has this id."""


class MediaType(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Kind
    content_type: str


class StoredMedia(BaseModel):
    """What the uploader learns: the id to attach to a report, and what we took the file for."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    kind: Kind
    content_type: str
    size: int


class MediaObject(BaseModel):
    """One stored upload and where its bytes are."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    bucket: str
    object_key: str
    kind: Kind
    content_type: str
    size_bytes: int
    sha256: bytes
    status: str  # quarantine until the sanitising pipeline marks it usable

    def stored(self) -> StoredMedia:
        return StoredMedia(id=self.id, kind=self.kind, content_type=self.content_type, size=self.size_bytes)


def sniff(head: bytes) -> MediaType | None:
    """The allow-list: anything else (SVG, HTML, archives, executables) is refused."""
    if head.startswith(b"\xff\xd8\xff"):
        return MediaType(kind="image", content_type="image/jpeg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return MediaType(kind="image", content_type="image/png")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return MediaType(kind="image", content_type="image/webp")
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return MediaType(kind="audio", content_type="audio/wav")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1"):
            return MediaType(kind="image", content_type="image/heic")
        if brand in (b"M4A ", b"M4B "):
            return MediaType(kind="audio", content_type="audio/mp4")
        if brand == b"qt  ":
            return MediaType(kind="video", content_type="video/quicktime")
        return MediaType(kind="video", content_type="video/mp4")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return MediaType(kind="video", content_type="video/webm")
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return MediaType(kind="audio", content_type="audio/mpeg")
    if head.startswith(b"OggS"):
        return MediaType(kind="audio", content_type="audio/ogg")
    return None


def identify(head: bytes) -> MediaType:
    """The type of an upload from its first bytes, or why it is refused."""
    if not head:
        raise EmptyFile
    media_type = sniff(head[:SNIFF_BYTES])
    if media_type is None:
        raise UnsupportedMediaType
    return media_type


def quarantine_key(media_id: uuid.UUID, prefix: str = "") -> str:
    """Where an upload waits until it has been sanitised."""
    return f"{prefix}quarantine/{media_id}"


class UploadMeter:
    """Counts and hashes an upload as it streams past; refuses it the moment it passes the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self._sha256 = hashlib.sha256()

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise FileTooLarge(self.limit)
        self._sha256.update(chunk)

    @property
    def sha256(self) -> bytes:
        return self._sha256.digest()
