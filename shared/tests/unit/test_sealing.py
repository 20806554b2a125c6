"""Sealed boxes: only the private key's holder opens them, only with the context they were sealed for."""

from __future__ import annotations

import base64
import json

import pytest

from paht_shared.sealing import SealError, check_public_key, generate_keypair, open_sealed, public_key_of, seal

CONTEXT = b"paht-contact:5b0f2c3e-0000-4000-8000-000000000001"
CONTACT = json.dumps(
    {"email": "an.nguyen.12345@example.vn", "phone": "+84912345678", "push_token": "fcm:abcdefghijkl"}
).encode()


def test_round_trip() -> None:
    """What is sealed with the public key opens with the private key and the same context."""
    private, public = generate_keypair()
    assert open_sealed(private, seal(public, CONTACT, CONTEXT), CONTEXT) == CONTACT


def test_keys_are_raw_32_bytes_and_public_derives_from_private() -> None:
    """Both halves are urlsafe base64 of 32 bytes; the public one can be recomputed from the private one."""
    private, public = generate_keypair()
    assert len(base64.urlsafe_b64decode(private)) == 32
    assert len(base64.urlsafe_b64decode(public)) == 32
    assert public_key_of(private) == public
    check_public_key(public)


def test_wrong_key_does_not_open() -> None:
    """Another private key gets SealError, not garbage."""
    _, public = generate_keypair()
    other, _ = generate_keypair()
    with pytest.raises(SealError):
        open_sealed(other, seal(public, CONTACT, CONTEXT), CONTEXT)


def test_wrong_context_does_not_open() -> None:
    """A box moved to another report's event does not open there."""
    private, public = generate_keypair()
    sealed = seal(public, CONTACT, CONTEXT)
    with pytest.raises(SealError):
        open_sealed(private, sealed, b"paht-contact:5b0f2c3e-0000-4000-8000-000000000002")


@pytest.mark.parametrize("position", [0, 1, 20, 40, 45, 60, -1])
def test_flipped_byte_does_not_open(position: int) -> None:
    """Changing any byte (version, ephemeral key, nonce, ciphertext, tag) is detected."""
    private, public = generate_keypair()
    raw = bytearray(base64.urlsafe_b64decode(seal(public, CONTACT, CONTEXT)))
    raw[position] ^= 0x01
    with pytest.raises(SealError):
        open_sealed(private, base64.urlsafe_b64encode(bytes(raw)).decode(), CONTEXT)


@pytest.mark.parametrize("sealed", ["", "not base64!", "AQ==", "A" * 7, "QUJD*REVG", "AQ" + "A" * 80 + "$"])
def test_malformed_box_is_a_seal_error(sealed: str) -> None:
    """Bad base64, a truncated box or stray characters raise SealError."""
    private, _ = generate_keypair()
    with pytest.raises(SealError):
        open_sealed(private, sealed, CONTEXT)


@pytest.mark.parametrize("key", ["", "short", "A" * 43 + "=!", base64.urlsafe_b64encode(b"x" * 31).decode()])
def test_malformed_keys_are_seal_errors(key: str) -> None:
    """A key that is not 32 bytes of urlsafe base64 raises SealError wherever it is used."""
    _, public = generate_keypair()
    with pytest.raises(SealError):
        seal(key, CONTACT, CONTEXT)
    with pytest.raises(SealError):
        check_public_key(key)
    with pytest.raises(SealError):
        public_key_of(key)
    with pytest.raises(SealError):
        open_sealed(key, seal(public, CONTACT, CONTEXT), CONTEXT)


def test_two_seals_of_the_same_text_differ() -> None:
    """A fresh ephemeral key and nonce each time: equal contacts cannot be linked by their boxes."""
    _, public = generate_keypair()
    assert seal(public, CONTACT, CONTEXT) != seal(public, CONTACT, CONTEXT)


def test_no_plaintext_fragment_in_the_sealed_text() -> None:
    """Neither the text nor its base64 appears in the box."""
    _, public = generate_keypair()
    sealed = seal(public, CONTACT, CONTEXT)
    raw = base64.urlsafe_b64decode(sealed)
    for fragment in ("example.vn", "0912345678", "912345678", "fcm:abcdef"):
        assert fragment not in sealed
        assert fragment.encode() not in raw
    assert base64.urlsafe_b64encode(CONTACT).decode()[:12] not in sealed
