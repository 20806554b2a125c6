"""Pure rules of intake: phone and CCCD normalisation, tracking codes. No I/O."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata

_SEPARATORS = re.compile(r"[\s.\-()]")
_MOBILE = re.compile(r"0[35789]\d{8}")
_LANDLINE = re.compile(r"02\d{9}")


def normalize_phone(raw: str) -> str | None:
    """A Vietnamese mobile or landline number as E.164 (+84...), or None when it is not one."""
    text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw))  # NFKC: full-width digits from phone keyboards
    if text.startswith("+84"):
        text = "0" + text[3:]
    elif text.startswith("84") and len(text) in (11, 12):
        text = "0" + text[2:]
    if _MOBILE.fullmatch(text) or _LANDLINE.fullmatch(text):
        return "+84" + text[1:]
    return None


def normalize_cccd(raw: str) -> str | None:
    """12 digits; the structure only (there is no check digit), never used for routing."""
    text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw))
    if len(text) == 12 and text.isdigit() and text[3] in "0123456789":
        return text
    return None


# Crockford-like alphabet without 0/O/1/I/L: read aloud on the 1022 hotline without confusion.
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_tracking_code() -> str:
    return "PA-" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))


def new_tracking_secret() -> str:
    return secrets.token_urlsafe(18)


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def secret_matches(secret: str, stored_hash: bytes) -> bool:
    return secrets.compare_digest(hash_secret(secret), bytes(stored_hash))
