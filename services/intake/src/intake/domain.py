"""Pure rules of intake: who must give what, phones and CCCDs, tracking codes, where a report happened. No I/O."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache

from paht_shared.contracts import Channel
from paht_shared.reference import Area
from paht_shared.text import fold

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


# Provinces of birth registration as issued on CCCDs (the 63 pre-2025 provinces; the 2025 merger did not
# renumber them). A place of birth: never a routing key.
CCCD_PROVINCES = frozenset(
    [
        "001",
        "002",
        "004",
        "006",
        "008",
        "010",
        "011",
        "012",
        "014",
        "015",
        "017",
        "019",
        "020",
        "022",
        "024",
        "025",
        "026",
        "027",
        "030",
        "031",
        "033",
        "034",
        "035",
        "036",
        "037",
        "038",
        "040",
        "042",
        "044",
        "045",
        "046",
        "048",
        "049",
        "051",
        "052",
        "054",
        "056",
        "058",
        "060",
        "062",
        "064",
        "066",
        "067",
        "068",
        "070",
        "072",
        "074",
        "075",
        "077",
        "079",
        "080",
        "082",
        "083",
        "084",
        "086",
        "087",
        "089",
        "091",
        "092",
        "093",
        "094",
        "095",
        "096",
    ]
)


def cccd_problem(raw: str, today: date) -> str | None:
    """Why `raw` is not a CCCD number (an error code), or None when its structure is valid.

    12 digits: province of birth registration, then one digit for sex and century (0/1: 1900s, 2/3: 2000s,
    4/5: 2100s, ...), then the last two digits of the birth year. There is no check digit."""
    text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw))
    if len(text) != 12 or not text.isascii() or not text.isdigit():
        return "invalid_cccd"
    if text[:3] not in CCCD_PROVINCES:
        return "cccd_province"
    birth_year = 1900 + 100 * (int(text[3]) // 2) + int(text[4:6])
    if birth_year > today.year:
        return "cccd_birth_year"
    return None


def normalize_cccd(raw: str) -> str:
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw))


# Who must say what, by channel and by whether the report is anonymous. An anonymous reporter gives only a
# way to be reached; a channel never has to invent what it cannot collect (an email has no CCCD, a caller's
# address is what they say on the phone). The web and app forms follow the province's form: a named report
# gives name, phone, address and CCCD.
NAMED_REPORT_FIELDS: Mapping[Channel, tuple[str, ...]] = {
    Channel.WEB: ("full_name", "phone", "address", "cccd"),
    Channel.APP: ("full_name", "phone", "address", "cccd"),
    Channel.HOTLINE: ("full_name", "phone"),
    Channel.EMAIL: ("email",),
    Channel.OPEN311: (),
}


def missing_identity(channel: Channel, anonymous: bool, given: set[str]) -> list[str]:
    """The reporter fields that must be given and are not; "contact" when neither phone nor email is."""
    missing = [] if anonymous else [f for f in NAMED_REPORT_FIELDS[channel] if f not in given]
    if not {"phone", "email"} & given:
        missing.append("contact")
    return missing


@dataclass(frozen=True)
class Place:
    """Where a report happened, as far as the text and codes tell."""

    ward_code: str | None
    area_code: str | None


_WARD_PREFIXES = ("phuong ", "xa ", "p. ", "x. ", "p.", "x.")


def ward_lookup(wards: Mapping[str, str]) -> dict[str, str]:
    """Folded ward names, with and without their "Phường"/"Xã" prefix, -> ward code (unambiguous ones only)."""
    seen: dict[str, set[str]] = {}
    for code, name in wards.items():
        folded = fold(name)
        names = {folded}
        for prefix in ("phuong ", "xa "):
            if folded.startswith(prefix):
                names.add(folded[len(prefix) :])
        for n in names:
            seen.setdefault(n, set()).add(code)
    return {name: next(iter(codes)) for name, codes in seen.items() if len(codes) == 1}


def resolve_ward_name(text: str, lookup: Mapping[str, str]) -> str | None:
    """A ward code for a ward typed by name ("P. Phú Lợi", "phuong phu loi", "Xã Kế Sách"), or None."""
    folded = fold(text)
    for prefix in _WARD_PREFIXES:
        if folded.startswith(prefix) and folded[len(prefix) :].strip() in lookup:
            return lookup[folded[len(prefix) :].strip()]
    return lookup.get(folded)


@cache
def _folded_alias(alias: str) -> str:
    return f" {fold(alias)} "  # the aliases are reference data: folded once per process


def find_area(text: str, areas: tuple[Area, ...]) -> str | None:
    """The former district an address names ("huyện Kế Sách", "TX Vĩnh Châu", "tp soc trang"), or None."""
    folded = f" {fold(text)} "
    for area in areas:
        if any(_folded_alias(alias) in folded for alias in area.aliases):
            return area.code
    return None


def inside(lat: float, lon: float, bbox: tuple[float, float, float, float]) -> bool:
    """bbox: (south, west, north, east) in degrees."""
    south, west, north, east = bbox
    return south <= lat <= north and west <= lon <= east


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
