"""Upload rules: what is refused before storing, and the size limit applied while streaming."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from media.domain import EmptyFile, FileTooLarge, UnsupportedMediaType, UploadMeter, identify, quarantine_key


def test_identify_names_why_a_file_is_refused() -> None:
    """No bytes is its own error; unknown first bytes are unsupported; a JPEG is an image."""
    with pytest.raises(EmptyFile):
        identify(b"")
    with pytest.raises(UnsupportedMediaType):
        identify(b"<!DOCTYPE html><html>")
    assert identify(b"\xff\xd8\xff\xe0" + b"\x00" * 100).kind == "image"


def test_meter_counts_and_hashes_up_to_the_limit() -> None:
    """Exactly the limit is accepted, with the SHA-256 of everything seen."""
    meter = UploadMeter(limit=10)
    meter.add(b"12345")
    meter.add(b"67890")
    assert meter.size == 10
    assert meter.sha256 == hashlib.sha256(b"1234567890").digest()


def test_meter_refuses_the_byte_past_the_limit() -> None:
    """One byte over raises FileTooLarge carrying the limit (for the citizen's message)."""
    meter = UploadMeter(limit=10)
    meter.add(b"1234567890")
    with pytest.raises(FileTooLarge) as refused:
        meter.add(b"x")
    assert refused.value.limit == 10


def test_quarantine_key_sits_under_the_configured_prefix() -> None:
    """Keys are quarantine/<id>, under the deployment's prefix when it has one."""
    media_id = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert quarantine_key(media_id) == f"quarantine/{media_id}"
    assert quarantine_key(media_id, "staging/") == f"staging/quarantine/{media_id}"
