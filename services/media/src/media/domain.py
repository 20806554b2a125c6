"""Pure media rules and value objects: what a file really is, how big it may be, who may see it. No I/O.

The type comes from the file's first bytes, never from its name or the client's Content-Type.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from paht_shared.auth import EVERY_AGENCY, Identity, Role

Kind = Literal["image", "video", "audio"]
Status = Literal["processing", "ready", "rejected", "deleted"]

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
    """No stored media object has this id, or the caller may not know that it has."""


class LinkRefused(Exception):
    """A file link whose signature is wrong or whose time is up."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class MediaType(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Kind
    content_type: str


class StoredMedia(BaseModel):
    """What the uploader learns: the id to attach to a report, the token that proves the upload is theirs
    (shown once; we keep only its hash), and what we took the file for."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    upload_token: str
    status: Status
    kind: Kind
    content_type: str
    size: int


class DerivativeFile(BaseModel):
    """A sanitised file made from an upload: the only bytes ever served."""

    model_config = ConfigDict(frozen=True)

    name: str
    content_type: str
    size: int


class Suggestion(BaseModel):
    """Where and when the original says it was taken: offered to the uploader only, never published."""

    model_config = ConfigDict(frozen=True)

    lat: float | None = None
    lon: float | None = None
    taken_at: datetime | None = None


class MediaObject(BaseModel):
    """One upload: where its original waits, what became of it, and who claimed it."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    bucket: str
    object_key: str  # the original, in quarantine: never served
    kind: Kind
    content_type: str
    size_bytes: int
    sha256: bytes
    status: Status
    token_sha256: str | None = None
    reject_reason: str | None = None
    derivatives: tuple[DerivativeFile, ...] = ()
    suggestion: Suggestion | None = None
    report_id: uuid.UUID | None = None
    public: bool = False
    agency_code: str | None = None  # the claiming report's current agency, when media has heard of one

    def derivative(self, name: str) -> DerivativeFile | None:
        return next((d for d in self.derivatives if d.name == name), None)


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


def derivative_key(media_id: uuid.UUID, name: str, prefix: str = "") -> str:
    """Where a sanitised file lives; the same key on every run, so a redone job overwrites, never duplicates."""
    return f"{prefix}media/{media_id}/{name}"


def derivatives_prefix(media_id: uuid.UUID, prefix: str = "") -> str:
    """Every derivative of one upload, also those of a run that crashed before recording them."""
    return f"{prefix}media/{media_id}/"


def new_upload_token() -> tuple[str, str]:
    """(token for the uploader, SHA-256 hex we keep): a leaked table cannot be used to claim anyone's files."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_uploader(media: MediaObject, token: str | None) -> bool:
    if not token or media.token_sha256 is None:
        return False
    return hmac.compare_digest(token_hash(token).encode(), media.token_sha256.encode())


def size_limit(kind: Kind, image: int, video: int, audio: int, ceiling: int) -> int:
    """The limit of one kind, never above the overall ceiling."""
    return min(ceiling, {"image": image, "video": video, "audio": audio}[kind])


def _link_signature(key: bytes, media_id: uuid.UUID, name: str, expires: int) -> str:
    message = f"{media_id}/{name}/{expires}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign_link(key: bytes, media_id: uuid.UUID, name: str, expires: int) -> str:
    """The link to one sanitised file, good until `expires` (unix seconds)."""
    signature = _link_signature(key, media_id, name, expires)
    return f"/api/v1/media/{media_id}/files/{name}?expires={expires}&sig={signature}"


def check_link(key: bytes, media_id: uuid.UUID, name: str, expires: str, signature: str, now: float) -> None:
    """Raises LinkRefused unless the signature is ours and the link still runs."""
    try:
        until = int(expires)
    except ValueError:
        raise LinkRefused("invalid_link") from None
    if not hmac.compare_digest(_link_signature(key, media_id, name, until).encode(), signature.encode()):
        raise LinkRefused("invalid_link")
    if until < now:
        raise LinkRefused("link_expired")


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


def may_see(media: MediaObject, uploader: bool, staff: Identity | None) -> bool:
    """The uploader; coordinators and admins; an officer of the claiming report's current agency; anyone once
    a public report has claimed the file. Everyone else must not even learn that it exists."""
    if uploader:
        return True
    if staff is not None:
        if staff.role in EVERY_AGENCY:
            return True
        if staff.role is Role.OFFICER and media.agency_code is not None and staff.sees_agency(media.agency_code):
            return True
    return media.report_id is not None and media.public


EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "video/mp4": "mp4",
    "audio/mp4": "m4a",
    "audio/mpeg": "mp3",
    "audio/ogg": "ogg",
}


def download_name(media_id: uuid.UUID, name: str, content_type: str) -> str:
    """The file name a browser saves a derivative under: ours, never the uploader's."""
    return f"{media_id}-{name}.{EXTENSIONS.get(content_type, 'bin')}"
