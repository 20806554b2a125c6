"""What a file really is, from its first bytes (never from its name or the client's Content-Type)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MediaType:
    kind: str  # image | video | audio
    content_type: str


def sniff(head: bytes) -> MediaType | None:
    """The allow-list: anything else (SVG, HTML, archives, executables) is refused."""
    if head.startswith(b"\xff\xd8\xff"):
        return MediaType("image", "image/jpeg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return MediaType("image", "image/png")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return MediaType("image", "image/webp")
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return MediaType("audio", "audio/wav")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1"):
            return MediaType("image", "image/heic")
        if brand in (b"M4A ", b"M4B "):
            return MediaType("audio", "audio/mp4")
        if brand == b"qt  ":
            return MediaType("video", "video/quicktime")
        return MediaType("video", "video/mp4")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return MediaType("video", "video/webm")
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return MediaType("audio", "audio/mpeg")
    if head.startswith(b"OggS"):
        return MediaType("audio", "audio/ogg")
    return None
