"""Sealed boxes: data only the holder of one private key can open, sealed by anyone with its public half.

Intake seals the reporter's contact for notify alone: the event travels through Kafka, relays, dead-letter
topics and backups, and none of them can read it. Each seal draws a fresh X25519 key pair, agrees a secret
with the recipient's public key, derives an AES-256-GCM key with HKDF-SHA256 and encrypts. `context` (for
example b"paht-contact:<report_id>") goes into the HKDF info and the AEAD's associated data, so a box cut
from one event and pasted into another does not open.

Layout (urlsafe base64): version (1 byte) | ephemeral public key (32) | nonce (12) | ciphertext with tag.
"""

from __future__ import annotations

import base64
import binascii
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

VERSION = 1
_KEY_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
_HEADER = 1 + _KEY_BYTES + _NONCE_BYTES
_URLSAFE_B64 = re.compile(r"[A-Za-z0-9_-]*={0,2}")


class SealError(Exception):
    """The box or a key is malformed, or the box does not open with this key and context (never says which)."""


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _decode(text: str, length: int | None = None) -> bytes:
    # The standard decoder skips characters outside the alphabet; a box with stray characters is refused instead.
    if not isinstance(text, str) or not _URLSAFE_B64.fullmatch(text):
        raise SealError("not base64")
    try:
        raw = base64.urlsafe_b64decode(text)
    except (binascii.Error, ValueError):
        raise SealError("not base64") from None
    if length is not None and len(raw) != length:
        raise SealError("wrong length")
    return raw


def _private(private_key: str) -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(_decode(private_key, _KEY_BYTES))


def _public(public_key: str) -> X25519PublicKey:
    return X25519PublicKey.from_public_bytes(_decode(public_key, _KEY_BYTES))


def _raw_public(key: X25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _box_key(shared: bytes, ephemeral: bytes, recipient: bytes, context: bytes) -> bytes:
    # Both public keys go into the salt: the derived key belongs to this one exchange (as libsodium's sealed boxes).
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient, info=context)
    return hkdf.derive(shared)


def generate_keypair() -> tuple[str, str]:
    """A new (private, public) pair, each the urlsafe base64 of its raw 32 bytes."""
    private = X25519PrivateKey.generate()
    return _encode(private.private_bytes_raw()), _encode(_raw_public(private.public_key()))


def public_key_of(private_key: str) -> str:
    """The public half of a private key (raises SealError on a malformed one)."""
    return _encode(_raw_public(_private(private_key).public_key()))


def check_public_key(public_key: str) -> None:
    """Raises SealError unless `public_key` is a usable public key: settings fail at startup, not per report."""
    _public(public_key)


def seal(public_key: str, plaintext: bytes, context: bytes) -> str:
    """`plaintext` sealed for the holder of `public_key`'s private half; two seals of one text always differ."""
    recipient = _public(public_key)
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = _raw_public(ephemeral.public_key())
    key = _box_key(ephemeral.exchange(recipient), ephemeral_public, _raw_public(recipient), context)
    nonce = os.urandom(_NONCE_BYTES)
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, context)
    return _encode(bytes([VERSION]) + ephemeral_public + nonce + ciphertext)


def open_sealed(private_key: str, sealed: str, context: bytes) -> bytes:
    """The plaintext of a box sealed for `private_key` with the same `context`, or SealError."""
    private = _private(private_key)
    raw = _decode(sealed)
    if len(raw) < _HEADER + _TAG_BYTES or raw[0] != VERSION:
        raise SealError("not a sealed box")
    ephemeral_public, nonce, ciphertext = raw[1 : 1 + _KEY_BYTES], raw[1 + _KEY_BYTES : _HEADER], raw[_HEADER:]
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
    except ValueError:
        raise SealError("not a sealed box") from None  # a low-order point gives an all-zero secret
    key = _box_key(shared, ephemeral_public, _raw_public(private.public_key()), context)
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, context)
    except InvalidTag:
        raise SealError("does not open") from None
