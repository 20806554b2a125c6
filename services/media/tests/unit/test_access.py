"""Who may see an upload, signed links to its sanitised files, and the per-kind size limits: pure rules."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from media.domain import (
    LinkRefused,
    MediaObject,
    check_link,
    is_uploader,
    may_see,
    new_upload_token,
    sign_link,
    size_limit,
)
from paht_shared.auth import Identity, Role

KEY = b"k" * 32
MEDIA_ID = uuid.UUID("12345678-1234-5678-1234-567812345678")


def media(**changes: object) -> MediaObject:
    values: dict[str, object] = {
        "id": MEDIA_ID,
        "bucket": "b",
        "object_key": f"quarantine/{MEDIA_ID}",
        "kind": "image",
        "content_type": "image/jpeg",
        "size_bytes": 3,
        "sha256": b"\x00" * 32,
        "status": "ready",
    }
    return MediaObject.model_validate({**values, **changes})


def staff(role: Role, agency: str | None = None) -> Identity:
    return Identity(subject="s", role=role, agency=agency, token_id=None)


def test_only_the_token_s_hash_is_kept_and_it_proves_the_upload() -> None:
    """The token is random and long; its SHA-256 matches it, and nothing else does."""
    token, digest = new_upload_token()
    assert len(token) >= 43
    assert token not in digest
    owned = media(token_sha256=digest)
    assert is_uploader(owned, token)
    assert not is_uploader(owned, token + "x")
    assert not is_uploader(owned, None)
    assert not is_uploader(media(), token)  # an upload from before tokens has no owner


def test_who_may_see_an_upload() -> None:
    """Uploader, coordinator, admin, an officer of the report's agency, anyone for a public report; no one else."""
    private = media(report_id=uuid.uuid4(), public=False, agency_code="SXD")
    assert may_see(private, uploader=True, staff=None)
    assert may_see(private, uploader=False, staff=staff(Role.COORDINATOR))
    assert may_see(private, uploader=False, staff=staff(Role.ADMIN))
    assert may_see(private, uploader=False, staff=staff(Role.OFFICER, "SXD"))
    assert not may_see(private, uploader=False, staff=staff(Role.OFFICER, "SYT"))
    assert not may_see(private, uploader=False, staff=staff(Role.OPERATOR, "SXD"))
    assert not may_see(private, uploader=False, staff=None)
    assert may_see(media(report_id=uuid.uuid4(), public=True), uploader=False, staff=None)
    assert not may_see(media(public=True), uploader=False, staff=None)  # not claimed: public means nothing yet


def test_a_signed_link_works_until_it_expires_and_only_for_its_file() -> None:
    """The signature covers id, file name and expiry: changing any of them, or waiting, refuses the link."""
    link = urlsplit(sign_link(KEY, MEDIA_ID, "display", 1_000))
    assert link.path == f"/api/v1/media/{MEDIA_ID}/files/display"
    query = {k: v[0] for k, v in parse_qs(link.query).items()}
    check_link(KEY, MEDIA_ID, "display", query["expires"], query["sig"], now=999.0)
    refusals = [
        (KEY, MEDIA_ID, "display", query["expires"], query["sig"], 1_001.0, "link_expired"),
        (KEY, MEDIA_ID, "thumbnail", query["expires"], query["sig"], 999.0, "invalid_link"),
        (KEY, uuid.uuid4(), "display", query["expires"], query["sig"], 999.0, "invalid_link"),
        (KEY, MEDIA_ID, "display", "2000", query["sig"], 999.0, "invalid_link"),
        (b"other" * 8, MEDIA_ID, "display", query["expires"], query["sig"], 999.0, "invalid_link"),
        (KEY, MEDIA_ID, "display", "soon", query["sig"], 999.0, "invalid_link"),
        (KEY, MEDIA_ID, "display", query["expires"], "é", 999.0, "invalid_link"),
    ]
    for key, media_id, name, expires, sig, now, code in refusals:
        with pytest.raises(LinkRefused) as refused:
            check_link(key, media_id, name, expires, sig, now)
        assert refused.value.code == code


def test_each_kind_has_its_own_size_limit_under_the_ceiling() -> None:
    """Photos, video and audio get their own limits; the overall ceiling still caps them."""
    limits = {"image": 15, "video": 100, "audio": 20}
    assert size_limit("image", **limits, ceiling=100) == 15
    assert size_limit("video", **limits, ceiling=100) == 100
    assert size_limit("audio", **limits, ceiling=100) == 20
    assert size_limit("video", **limits, ceiling=50) == 50
