"""Personal data at rest: AES-256-GCM with associated data, key ids for rotation, keyed blind indexes.

The associated data binds a ciphertext to its row and column, so a ciphertext copied into another row or
column fails to decrypt instead of silently showing someone else's data.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE_BYTES = 12


class KeyringError(ValueError):
    pass


@dataclass(frozen=True)
class Keyring:
    """`active` encrypts; every key in `keys` can decrypt (old ones stay until data is re-encrypted)."""

    active: str
    keys: dict[str, bytes]

    @classmethod
    def parse(cls, spec: str) -> Keyring:
        """`"k2:<base64 32 bytes>,k1:<base64>"`: the first key is the active one."""
        keys: dict[str, bytes] = {}
        for part in (p.strip() for p in spec.split(",") if p.strip()):
            key_id, _, encoded = part.partition(":")
            try:
                raw = base64.b64decode(encoded, validate=True)
            except ValueError as exc:
                raise KeyringError(f"key {key_id!r} is not base64") from exc
            if len(raw) != 32 or not key_id.isalnum():
                raise KeyringError(f"key {key_id!r} must be an alphanumeric id and 32 bytes")
            keys[key_id] = raw
        if not keys:
            raise KeyringError("no keys configured")
        return cls(active=next(iter(keys)), keys=keys)


class FieldCipher:
    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._aead = {kid: AESGCM(key) for kid, key in keyring.keys.items()}

    def encrypt(self, plaintext: str, context: str) -> bytes:
        """Returns `key_id | 0x00 | nonce | ciphertext+tag`; `context` is e.g. "reporters.phone:<row id>"."""
        kid = self._keyring.active
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead[kid].encrypt(nonce, plaintext.encode(), context.encode())
        return kid.encode() + b"\x00" + nonce + sealed

    def decrypt(self, blob: bytes, context: str) -> str:
        kid, _, rest = bytes(blob).partition(b"\x00")
        aead = self._aead.get(kid.decode())
        if aead is None:
            raise KeyringError(f"unknown key id {kid.decode()!r}")
        return aead.decrypt(rest[:_NONCE_BYTES], rest[_NONCE_BYTES:], context.encode()).decode()


def blind_index(key: bytes, kind: str, normalized_value: str) -> bytes:
    """Keyed hash for equality lookups (by phone, by CCCD) without storing the value in clear."""
    return hmac.new(key, f"{kind}:{normalized_value}".encode(), hashlib.sha256).digest()
