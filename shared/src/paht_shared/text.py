"""Text helpers for what citizens type: folding for search, cleaning before checks, and masking personal data.

Pure functions, no I/O. Masking runs on every submission (titles and contents, and every log line through
`paht_shared.logging.redact_text`), so its patterns are compiled once here and nowhere else.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from itertools import chain

MASK = "[đã ẩn]"  # Vietnamese for "hidden": shown to citizens and staff in place of what was masked

# --- folding -----------------------------------------------------------------------------------------

# Combining diacritical blocks only: stripping every nonspacing mark would also strip vowel signs that are
# part of the letters in scripts such as Thai or Devanagari, which would merge unrelated words.
_DIACRITICS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def fold(text: str) -> str:
    """`text` for comparisons that ignore case, diacritics and spacing: "Ngập  NƯỚC" -> "ngap nuoc".

    NFKC first so full-width letters and ligatures compare like their plain forms. casefold rather than lower
    because it is the caseless-matching mapping. đ has no decomposition (its stroke is part of the letter,
    not a combining mark), so it is mapped to d by hand. The result is recomposed (NFC) so scripts that NFD
    splits apart (Hangul) come back whole.
    """
    text = unicodedata.normalize("NFKC", text).casefold().replace("đ", "d")
    text = _DIACRITICS.sub("", unicodedata.normalize("NFD", text))
    return unicodedata.normalize("NFC", " ".join(text.split()))


# --- cleaning ----------------------------------------------------------------------------------------

# C0 and C1 control characters except tab (\x09) and newline (\x0a). They are invisible, can corrupt logs and
# terminals, and would count towards length limits.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def normalize_text(text: str) -> str:
    """A title or content as stored and length-checked: NFC, line breaks as \\n, no control characters, trimmed.

    Line breaks are converted before control characters are removed (a lone \\r would otherwise glue two lines
    together), and NFC runs after the removal so a control character between a letter and its accent cannot
    keep them from composing.
    """
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return unicodedata.normalize("NFC", text).strip()


def clean_name(text: str) -> str:
    """A full name as typed -> NFC, trimmed, every run of whitespace (tabs, NBSP, newlines) one space."""
    return " ".join(unicodedata.normalize("NFC", text).split())


# Apostrophes as typed on desktop and phone keyboards (O'Neil, O’Neil), and hyphens (Ánh-Tuyết).
_NAME_PUNCTUATION = frozenset(" '’-\u2010")


def is_person_name(text: str) -> bool:
    """Whether a name already passed through `clean_name` is made of letters, spaces, apostrophes and hyphens.

    Letters of any script count (str.isalpha), so Vietnamese or Chinese names pass, and so do the combining
    signs that follow a letter (Khmer writes its vowels so; the province has a large Khmer community);
    digits, symbols, markup and invisible characters do not. An uncleaned name (untrimmed, double or
    non-space whitespace) is refused rather than silently accepted, so a caller that forgot `clean_name`
    finds out. The length rule (2-100) belongs to the caller.
    """
    if text != text.strip() or "  " in text:
        return False
    has_letter = False
    after_letter = False  # a combining sign must follow a letter (or another sign of the same letter)
    for char in text:
        if char.isalpha():
            has_letter = after_letter = True
        elif after_letter and unicodedata.category(char) in ("Mn", "Mc"):
            continue
        elif char in _NAME_PUNCTUATION:
            after_letter = False
        else:
            return False
    return has_letter


# --- masking -----------------------------------------------------------------------------------------
#
# Masking runs on every submission and every log line, on a couple of CPU cores shared with PostgreSQL and
# Kafka. Scanning a whole text with a pattern that opens with a lookbehind is slow in `re` (it is tried at every
# position), so cheap scans find where personal data could be (a run of nine or more digits, an @, the first
# word of a name) and the exact patterns only look there.

# Phone keyboards in CJK input modes type full-width forms (U+FF01-FF5E, U+3000). Each maps to one ASCII
# character, so matching runs on a translated copy with the same offsets and the masks are cut into the
# original. The translation only runs when such a character is present: translate() is slow on non-ASCII text.
_FULLWIDTH = {cp: unicodedata.normalize("NFKC", chr(cp)) for cp in chain(range(0xFF01, 0xFF5F), [0x3000])}
_HAS_FULLWIDTH = re.compile("[\uff01-\uff5e\u3000]")

# Lengths bounded (RFC 5321: local part 64, label 63) so a long run of word characters without an @ after it
# costs linear, not quadratic, time.
_EMAIL_LOCAL_MAX = 64
_EMAIL = re.compile(rf"[\w.+-]{{1,{_EMAIL_LOCAL_MAX}}}@[\w-]{{1,63}}(?:\.[\w-]{{1,63}}){{1,8}}")

# A number is not the tail of a longer number or of a grouped amount ("10.912.345.678 đồng"), and not the head
# of one: a digit run only counts when it stands whole.
_ALONE_BEFORE = r"(?<![0-9])(?<![0-9][.,])"
_ALONE_AFTER = r"(?![0-9])(?![.,][0-9])"
_GROUP = "[\x20.\\-\u00a0]"  # between digit groups: space, dot, dash, no-break space

# 12-digit CCCD, plain or in the 3/3/6 and 4/4/4 groups people copy it in. Any 12-digit run is masked, not
# only those starting with a province code: 12-digit bank account numbers are personal data too.
_CCCD = re.compile(
    rf"""{_ALONE_BEFORE}
    (?: [0-9]{{12}} | [0-9]{{3}}{_GROUP}[0-9]{{3}}{_GROUP}[0-9]{{6}} | [0-9]{{4}}{_GROUP}[0-9]{{4}}{_GROUP}[0-9]{{4}} )
    {_ALONE_AFTER}""",
    re.VERBOSE,
)

# The 9-digit CMND predates the CCCD. Nine digits alone are too common (amounts, codes) to mask blindly, so
# only a number shortly after the word that names it counts ("CMND số 123456789"); only the number is masked.
_CMND_REACH = 64  # how far before its number the keyword may start
_CMND = re.compile(
    rf"""(?i:\b(?:cmnd|cmt|chứng\s+minh\s+(?:nhân\s+dân|thư))\b)
    [^0-9\n]{{0,24}}?
    {_ALONE_BEFORE}(?P<number>[0-9]{{9}} | [0-9]{{3}}{_GROUP}[0-9]{{3}}{_GROUP}[0-9]{{3}}){_ALONE_AFTER}""",
    re.VERBOSE,
)

# Vietnamese numbers only (cccd-and-phones.md), so years, amounts, dates and service numbers stay readable:
#   mobile    0 + 3/5/7/8/9 + 8 digits;      landline 02 + 9 digits (11 in all since 2017);
#   pre-2018 mobile 01[2689] + 8 digits: the move to 10 digits was a fixed prefix swap, so an old number still
#   gives away the current one;
#   international +84 / 0084 / 84 / (+84), optionally "(0)", then the national number without its 0.
# Any single space, dot or dash may sit between two digits, and ")" may close an area code: "(0292) 3821 234".
_DIGIT = rf"(?:(?:{_GROUP}|\)\x20?)?[0-9])"
_NATIONAL_TAIL = rf"(?: [35789]{_DIGIT}{{8}} | 2{_DIGIT}{{9}} )"
_PHONE_PREFIX_REACH = 4  # "(+ 8…": what may come before the first digit
_PHONE = re.compile(
    rf"""{_ALONE_BEFORE}
    (?:
        (?: (?:\+|00|\(\+?)\x20?84\)?                 # +84, 0084, (+84), (84)
          | 84(?!(?:[.,][0-9]{{3}})+(?![.,]?[0-9]))      # bare 84, unless an amount: 84.912.345.678
        )
        {_GROUP}?(?:\(0\)\x20?)? {_NATIONAL_TAIL}
      | \(?0(?: {_NATIONAL_TAIL} | 1[2689]{_DIGIT}{{8}} )
    )
    {_ALONE_AFTER}""",
    re.VERBOSE,
)

# Where a phone, CCCD or CMND could be: nine or more digits, at most two separators apart. Starting with a
# character class lets `re` skip ahead to the next digit instead of trying every position.
_DIGIT_RUN = re.compile(r"[0-9](?:[\x20.\-\u00a0()]{0,2}[0-9]){8,}")

# --- names: a word at a time, so compiled patterns are shared between reporters (Nguyễn, Văn, Thị …) -------

_MARKS = "[\u0300-\u036f]*"  # a name in NFD text carries its accents as combining marks after each letter


def _latin_variants() -> dict[str, str]:
    """Each ASCII letter -> a character class of every Latin letter that folds to it (a: aàáảãạăằ…ẬA…)."""
    variants: dict[str, list[str]] = {}
    for cp in chain(range(0x41, 0x5B), range(0x61, 0x7B), range(0xC0, 0x250), range(0x1E00, 0x1F00)):
        base = fold(chr(cp))
        if len(base) == 1 and "a" <= base <= "z":
            variants.setdefault(base, []).append(chr(cp))
    return {base: "[" + "".join(chars) + "]" for base, chars in variants.items()}


_LETTER_CLASS = _latin_variants()
_PUNCTUATION_CLASS = {"'": "['’ʼ]", "’": "['’ʼ]", "ʼ": "['’ʼ]", "-": "[-\u2010]", "\u2010": "[-\u2010]"}
_SPACE = re.compile(r"\s+")


def _char_class(char: str) -> str:
    """A folded character -> the characters it stands for: its diacritic and case variants."""
    if char in _LETTER_CLASS:
        return _LETTER_CLASS[char]
    if char in _PUNCTUATION_CLASS:
        return _PUNCTUATION_CLASS[char]
    # Other scripts: fold lower-cased the name, the text may be in capitals (Greek, Cyrillic).
    cases = {c for c in (char, char.upper(), char.lower()) if len(c) == 1}
    return "[" + "".join(sorted(re.escape(c) for c in cases)) + "]"


@lru_cache(maxsize=4096)
def _word_pattern(folded_word: str) -> re.Pattern[str]:
    """A folded word of a name -> a pattern for any spelling of it: case, diacritics composed or not.

    Compiling costs far more than matching (hundreds of µs for the large character classes), and names are
    drawn from a few thousand syllables, so words are cached rather than whole names.
    """
    return re.compile("".join(_char_class(c) + _MARKS for c in folded_word))


# A name under 2 characters would mask single letters everywhere. Over 200 (twice the longest full name a
# reporter may give) it is not a name, and compiling its patterns costs ~0.1 ms per letter: seconds for a
# 10,000-character "name".
_NAME_MIN, _NAME_MAX = 2, 200


def _at_word_edge(text: str, index: int) -> bool:
    """Whether `text[index]` cannot continue a word (so "Lan" is not found inside "Lanh")."""
    if index < 0 or index >= len(text):
        return True
    char = text[index]
    return not (char.isalnum() or char == "_" or unicodedata.combining(char))


def _name_spans(text: str, folded: str) -> list[tuple[int, int]]:
    """Where the folded name `folded` appears in `text` as whole words, any whitespace between them.

    The first word is searched for; the others are only compiled and matched once it is found, so a name
    that is not in the text costs one pattern.
    """
    first, *rest = folded.split(" ")
    first_pattern = _word_pattern(first)
    spans: list[tuple[int, int]] = []
    pos = 0
    while found := first_pattern.search(text, pos):
        start, end = found.span()
        pos = start + 1
        if not _at_word_edge(text, start - 1):
            continue
        for rest_word in rest:
            space = _SPACE.match(text, end)
            word = _word_pattern(rest_word).match(text, space.end()) if space else None
            if word is None:
                break
            end = word.end()
        else:
            if _at_word_edge(text, end):
                spans.append((start, end))
                pos = end
    return spans


def mask_personal_data(text: str, names: Iterable[str] = (), *, mask: str = MASK) -> str:
    """`text` with phone numbers, CCCD/CMND numbers, emails and each of `names` replaced by `mask`.

    For citizens' free text (titles, contents) before it is published or sent on; `names` is normally the
    reporter's full name, matched whole, ignoring case, diacritics and spacing. Names shorter than 2 or longer
    than 200 characters (after `clean_name`) are ignored. Never raises for any string.
    """
    probe = text if text.isascii() or not _HAS_FULLWIDTH.search(text) else text.translate(_FULLWIDTH)
    spans: list[tuple[int, int]] = []
    pos = 0
    while (at := probe.find("@", pos)) >= 0:
        # A match containing this @ starts at most 64 characters before it; searching from there gives the
        # same matches as scanning the whole text.
        email = _EMAIL.search(probe, max(pos, at - _EMAIL_LOCAL_MAX))
        if email is None:
            break
        spans.append(email.span())
        pos = email.end()
    for run in _DIGIT_RUN.finditer(probe):
        # endpos a little past the run so the lookaheads still see what follows it
        start, end = run.start(), min(len(probe), run.end() + 2)
        reach = max(0, start - _PHONE_PREFIX_REACH)
        spans += [m.span() for m in _CCCD.finditer(probe, reach, end)]
        spans += [m.span() for m in _PHONE.finditer(probe, reach, end)]
        spans += [m.span("number") for m in _CMND.finditer(probe, max(0, start - _CMND_REACH), end)]
    for name in names:
        cleaned = clean_name(name)
        if not _NAME_MIN <= len(cleaned) <= _NAME_MAX:
            continue
        folded = fold(cleaned)
        # Each folded character stands for at least one character of the text, so a longer name cannot be
        # there: checking spares compiling patterns for it.
        if folded and len(folded) <= len(probe):
            spans += _name_spans(probe, folded)
    if not spans:
        return text
    return _cut(text, spans, mask)


def _cut(text: str, spans: list[tuple[int, int]], mask: str) -> str:
    """Replace the union of `spans` with one `mask` per connected stretch (an email's digits are in the email)."""
    spans.sort()
    out: list[str] = []
    kept = 0  # end of the text already copied or masked
    start, end = spans[0]
    for next_start, next_end in spans[1:]:
        if next_start <= end:
            end = max(end, next_end)
            continue
        out += [text[kept:start], mask]
        kept, start, end = end, next_start, next_end
    out += [text[kept:start], mask, text[end:]]
    return "".join(out)
