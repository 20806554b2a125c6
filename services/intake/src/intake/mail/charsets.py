"""Vietnamese text from a mail's bytes: UTF-8, Windows-1258, and the legacy TCVN3 (ABC) and VNI encodings.

Mail clients of the 1990s and 2000s, and many still in offices, send Vietnamese typed with TCVN3 or VNI fonts:
the bytes are font positions, and the message usually declares iso-8859-1, windows-1252 or us-ascii. Python has
no codec for either, so both tables are here. Which encoding a text is in is decided by reading it each way and
counting the words that are well-formed Vietnamese syllables (`vietnamese_score`); the declared charset wins ties.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass

# TCVN 5712:1993, as glibc's localedata charmap TCVN5712-1 (and libiconv's tcvn.h) gives it, bytes 0x80-0xFF.
# That is the VN1 table; TCVN3 ("ABC", VN3) is the same table for the bytes it uses (0xA1-0xFF: every lowercase
# letter and Ă Â Ê Ô Ơ Ư Đ), so one table reads both. 0xB0-0xB4 are combining tone marks (NFC joins them).
_TCVN_HIGH = (
    "ÀẢÃÁẠẶẬÈẺẼÉẸỆÌỈĨ"
    "ÍỊÒỎÕÓỌỘỜỞỠỚỢÙỦŨ"
    "\xa0ĂÂÊÔƠƯĐăâêôơưđẰ"
    "\u0300\u0309\u0303\u0301\u0323àảãáạẲằẳẵắẴ"
    "ẮẦẨẪẤỀặầẩẫấậèỂẻẽ"
    "éẹềểễếệìỉỄẾỒĩíịò"
    "Ổỏõóọồổỗốộờởỡớợù"
    "ỖủũúụừửữứựỳỷỹýỵỐ"
)
# VN1 also puts twelve capitals in C0 positions no text uses as controls.
_TCVN_LOW = {0x01: "Ú", 0x02: "Ụ", 0x04: "Ừ", 0x05: "Ử", 0x06: "Ữ", 0x11: "Ứ", 0x12: "Ự", 0x13: "Ỳ", 0x14: "Ỷ"}
_TCVN_LOW |= {0x15: "Ỹ", 0x16: "Ý", 0x17: "Ỵ"}
_TCVN_TABLE = "".join(_TCVN_LOW.get(b, chr(b)) for b in range(0x80)) + _TCVN_HIGH


def decode_tcvn3(data: bytes) -> str:
    return unicodedata.normalize("NFC", "".join(_TCVN_TABLE[b] for b in data))


# VNI (VNI-Windows fonts): a letter is its base ASCII letter followed by one or two bytes for its marks, shown
# here as the Latin-1 characters those bytes are. Per base letter the six forms (no tone, sắc, huyền, hỏi, ngã,
# nặng) follow the layout of the VNI keyboard table in xvnkb's vni.h (Dao Hai Lam, 2002); the samples in
# tests/unit/test_mail_charsets.py come from another published converter.
_TONES = "\u0301\u0300\u0309\u0303\u0323"  # sắc, huyền, hỏi, ngã, nặng
_VNI_MARKS = {
    # base mark (none, â/ê/ô, ă) -> the five tone bytes after it, lowercase and uppercase
    "": ("ùøûõï", "ÙØÛÕÏ"),
    "circumflex": ("áàåãä", "ÁÀÅÃÄ"),
    "breve": ("éèúüë", "ÉÈÚÜË"),
}


def _vni_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for lower in (False, True):
        idx = 0 if lower else 1
        for base in "aeouy":
            letter = base if lower else base.upper()
            for n, tone in enumerate(_VNI_MARKS[""][idx]):
                table[letter + tone] = letter + _TONES[n]
        for base in "aeo":  # â ê ô: the base, then â (0xE2/0xC2) alone or one of five toned circumflex bytes
            letter = base if lower else base.upper()
            table[letter + ("â" if lower else "Â")] = letter + "\u0302"
            for n, tone in enumerate(_VNI_MARKS["circumflex"][idx]):
                table[letter + tone] = letter + "\u0302" + _TONES[n]
        a = "a" if lower else "A"  # ă: ê (0xEA/0xCA) alone or one of five toned breve bytes
        table[a + ("ê" if lower else "Ê")] = a + "\u0306"
        for n, tone in enumerate(_VNI_MARKS["breve"][idx]):
            table[a + tone] = a + "\u0306" + _TONES[n]
        # ơ and ư are single bytes (ô/ö in Latin-1), toned like a plain vowel
        for horned_byte, horned in (("ô", "o\u031b"), ("ö", "u\u031b")):
            key = horned_byte if lower else horned_byte.upper()
            value = horned if lower else horned.upper()
            table[key] = value
            for n, tone in enumerate(_VNI_MARKS[""][idx]):
                table[key + tone] = value + _TONES[n]
        # i has one byte per toned form; ỵ too; đ
        for byte, letter in zip("íìæóò" if lower else "ÍÌÆÓÒ", _TONES, strict=True):
            table[byte] = ("i" if lower else "I") + letter
        table["î" if lower else "Î"] = "y\u0323" if lower else "Y\u0323"
        table["ñ" if lower else "Ñ"] = "đ" if lower else "Đ"
    return {key: unicodedata.normalize("NFC", value) for key, value in table.items()}


_VNI = _vni_table()
_VNI_PATTERN = re.compile("|".join(re.escape(k) for k in sorted(_VNI, key=len, reverse=True)))


def decode_vni(data: bytes) -> str:
    text = data.decode("latin-1")  # VNI's bytes are Latin-1 positions; every byte reads
    return unicodedata.normalize("NFC", _VNI_PATTERN.sub(lambda m: _VNI[m.group()], text))


# --- which reading is Vietnamese ---------------------------------------------------------------------

_TONE_MARKS = frozenset(_TONES)
_WORD = re.compile(r"[^\W\d_]+")
_INITIAL = "(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnpqrstvx])?"
# Vowel nuclei of Vietnamese syllables, without tone marks (with â ă ê ô ơ ư).
_NUCLEI = frozenset(
    {"a", "ă", "â", "e", "ê", "i", "y", "o", "ô", "ơ", "u", "ư", "ai", "ao", "au", "ay", "âu", "ây", "eo", "êu", "ia",
     "iê", "iu", "oa", "oă", "oe", "oi", "ôi", "ơi", "oo", "ua", "uâ", "uê", "ui", "uô", "uơ", "uy", "ưa", "ưi", "ươ",
     "ưu", "yê", "iêu", "yêu", "oai", "oao", "oay", "oeo", "uây", "uôi", "ươi", "ươu", "uya", "uyê", "uyu"}
)  # fmt: skip
_SYLLABLE = re.compile(f"{_INITIAL}(?:{'|'.join(sorted(_NUCLEI, key=len, reverse=True))})(?:ngh|ng|nh|ch|[cmnpt])?")
# Punctuation and symbols Vietnamese text in mail commonly has beyond ASCII; anything else non-ASCII that is
# not a letter is counted against a reading (TCVN3 read as Latin-1 is full of µ ¸ ¹ «).
_TYPOGRAPHY = frozenset("\u00a0\u2013\u2014\u2018\u2019\u201c\u201d\u2026\u2022°«»·×€₫")


def vietnamese_score(text: str) -> int:
    """Well-formed Vietnamese words with diacritics, less malformed ones and stray symbols: higher is likelier."""
    score = 0
    for word in _WORD.findall(text):
        if word.isascii():
            continue  # the same in every reading
        score += 1 if _is_syllable(word) else -2
    score -= 3 * sum(1 for c in text if ord(c) > 0x7F and not c.isalpha() and c not in _TYPOGRAPHY and c != "\n")
    return score


def _is_syllable(word: str) -> bool:
    if not (word.islower() or word.isupper() or word.istitle()):
        return False
    decomposed = unicodedata.normalize("NFD", word.lower())
    if sum(1 for c in decomposed if c in _TONE_MARKS) > 1:
        return False
    toneless = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONE_MARKS))
    return _SYLLABLE.fullmatch(toneless) is not None


@dataclass(frozen=True)
class Decoded:
    text: str
    charset: str  # what was used: a Python codec name, "tcvn3" or "vni"


# Declared charsets that legacy mail carries whatever its bytes are: their reading is only one candidate.
_WEAK_DECLARATIONS = frozenset({"ascii", "latin-1", "iso8859-1", "cp1252", "iso8859-15"})


def decode_text(data: bytes, declared: str | None) -> Decoded:
    """The text of `data` (NFC): the declared charset's reading when the declaration means something and
    decodes, otherwise the most Vietnamese-looking of UTF-8, Windows-1258, TCVN3, VNI and the declared one."""
    codec = _codec(declared)
    readings = _reading(data, codec)
    if readings and codec not in _WEAK_DECLARATIONS:
        # A real declaration that decodes: kept, unless its text is TCVN3/VNI bytes passed through Latin-1
        # (a legacy mail a UTF-8 client forwarded: "Xin chaøo" in UTF-8)
        relabelled = _legacy_inside(readings[0])
        return relabelled or readings[0]
    for name in ("utf-8", "cp1258"):
        if name != codec:
            readings += _reading(data, name)
    readings.append(Decoded(decode_tcvn3(data), "tcvn3"))
    readings.append(Decoded(decode_vni(data), "vni"))
    return max(readings, key=lambda r: vietnamese_score(r.text))  # max keeps the first of equals: the declared


def _reading(data: bytes, codec: str | None) -> list[Decoded]:
    """[the text as `codec` reads it (NFC: cp1258 writes tones as combining marks)], or [] if it does not."""
    if codec is None:
        return []
    try:
        return [Decoded(unicodedata.normalize("NFC", data.decode(codec)), codec)]
    except UnicodeDecodeError:
        return []


def _legacy_inside(reading: Decoded) -> Decoded | None:
    """A better reading of a text whose characters are all Latin-1 ones, as TCVN3 or VNI bytes."""
    if reading.text.isascii():
        return None
    try:
        raw = reading.text.encode("latin-1")
    except UnicodeEncodeError:
        return None
    best = max(
        (Decoded(decode_tcvn3(raw), "tcvn3"), Decoded(decode_vni(raw), "vni")),
        key=lambda r: vietnamese_score(r.text),
    )
    return best if vietnamese_score(best.text) > vietnamese_score(reading.text) else None


def _codec(declared: str | None) -> str | None:
    """The Python codec of a declared charset (normalised name), or None for none or an unknown one."""
    if not declared:
        return None
    try:
        return codecs.lookup(declared.strip().strip('"')).name
    except (LookupError, ValueError):
        return None
