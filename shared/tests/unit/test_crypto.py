"""Personal data encryption: AES-256-GCM bound to row and column, with key rotation."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.exceptions import InvalidTag

from paht_shared.crypto import FieldCipher, Keyring, KeyringError, blind_index


def key_spec(*ids: str) -> str:
    return ",".join(f"{i}:{base64.b64encode(os.urandom(32)).decode()}" for i in ids)


def test_round_trip_and_no_plaintext_in_ciphertext() -> None:
    """What goes in comes out, and the stored bytes do not contain the value."""
    cipher = FieldCipher(Keyring.parse(key_spec("k1")))
    blob = cipher.encrypt("0912345678", "reporters.phone:1")
    assert b"0912345678" not in blob
    assert cipher.decrypt(blob, "reporters.phone:1") == "0912345678"


def test_ciphertext_moved_to_another_row_or_column_fails() -> None:
    """The associated data binds the ciphertext to its row and column."""
    cipher = FieldCipher(Keyring.parse(key_spec("k1")))
    blob = cipher.encrypt("094090001234", "reporters.cccd:1")
    with pytest.raises(InvalidTag):
        cipher.decrypt(blob, "reporters.cccd:2")
    with pytest.raises(InvalidTag):
        cipher.decrypt(blob, "reporters.phone:1")


def test_rotation_old_key_still_decrypts_new_key_encrypts() -> None:
    """After rotation the new first key encrypts; data under the old key stays readable."""
    old_spec = key_spec("k1")
    old = FieldCipher(Keyring.parse(old_spec))
    blob = old.encrypt("Nguyễn Văn An", "reporters.full_name:9")
    rotated = FieldCipher(Keyring.parse(key_spec("k2") + "," + old_spec))
    assert rotated.decrypt(blob, "reporters.full_name:9") == "Nguyễn Văn An"
    assert rotated.encrypt("x", "c").startswith(b"k2\x00")


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "k1:notbase64!!",
        "k1:" + base64.b64encode(b"short").decode(),
        "k-1:" + base64.b64encode(os.urandom(32)).decode(),
    ],
)
def test_bad_key_configuration_is_refused(spec: str) -> None:
    """A wrong key setting stops the service at start instead of writing unreadable data."""
    with pytest.raises(KeyringError):
        Keyring.parse(spec)


def test_blind_index_is_keyed_and_deterministic() -> None:
    """Same value and key give the same index; another key gives another (no dictionary attack without it)."""
    k1, k2 = os.urandom(32), os.urandom(32)
    assert blind_index(k1, "phone", "+84912345678") == blind_index(k1, "phone", "+84912345678")
    assert blind_index(k1, "phone", "+84912345678") != blind_index(k2, "phone", "+84912345678")
    assert blind_index(k1, "phone", "+84912345678") != blind_index(k1, "cccd", "+84912345678")
