"""The media allow-list reads the first bytes, never the file name."""

from __future__ import annotations

import pytest

from media.domain import sniff


@pytest.mark.parametrize(
    ("head", "content_type"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00", "video/mp4"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00", "image/heic"),
        (b"ID3\x04\x00", "audio/mpeg"),
        (b"OggS\x00\x02", "audio/ogg"),
    ],
)
def test_allowed_types(head: bytes, content_type: str) -> None:
    """Photos, video and audio from phones are recognised."""
    found = sniff(head)
    assert found is not None
    assert found.content_type == content_type


@pytest.mark.parametrize("head", [b"<svg xmlns=", b"<!DOCTYPE html>", b"PK\x03\x04", b"MZ\x90\x00", b"%PDF-1.7", b""])
def test_refused_types(head: bytes) -> None:
    """SVG, HTML, archives, executables and documents are refused."""
    assert sniff(head) is None
