"""How long an SMS is on the wire: its encoding and how many segments (billed messages) it takes.

A text made only of the GSM 03.38 alphabet goes as GSM-7 (160 septets, or 153 per segment once it must be
split: the concatenation header takes the rest). One character outside it — any Vietnamese letter with a
diacritic, "đ" included — turns the whole message into UCS-2: 70 UTF-16 code units, 67 per segment.
"""

from __future__ import annotations

from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

# The GSM 03.38 basic table (one septet each), without ESC (0x1B), which only introduces the extension table.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: ESC + one septet, so two septets each.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

SINGLE_LIMIT: dict[Encoding, int] = {"GSM-7": 160, "UCS-2": 70}
SEGMENT_LIMIT: dict[Encoding, int] = {"GSM-7": 153, "UCS-2": 67}


def encoding_of(text: str) -> Encoding:
    """GSM-7 when every character is in the GSM alphabet (basic or extension table), else UCS-2."""
    return "GSM-7" if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text) else "UCS-2"


def _units(char: str, encoding: Encoding) -> int:
    if encoding == "GSM-7":
        return 2 if char in GSM7_EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1  # outside the BMP: a surrogate pair


def segments(text: str) -> tuple[Encoding, int]:
    """The encoding `text` goes in and how many segments it takes (an empty text is still one message)."""
    encoding = encoding_of(text)
    costs = [_units(c, encoding) for c in text]
    if sum(costs) <= SINGLE_LIMIT[encoding]:
        return encoding, 1
    # Phones cannot join a character split across two segments (an escape and its septet, or the halves of a
    # surrogate pair), so a character that does not fit whole starts the next segment.
    limit = SEGMENT_LIMIT[encoding]
    count, used = 1, 0
    for cost in costs:
        if used + cost > limit:
            count, used = count + 1, 0
        used += cost
    return encoding, count


def fit_sms(text: str, max_segments: int) -> str:
    """`text` if it fits in `max_segments`, else its longest prefix that fits with an ellipsis appended.

    The ellipsis is "…" for a text already in UCS-2 (Vietnamese); a GSM-7 text ends with "..." instead,
    because "…" is not in the GSM alphabet and would turn the whole message into UCS-2, halving what fits.
    """
    if max_segments < 1:
        raise ValueError("max_segments must be at least 1")
    if segments(text)[1] <= max_segments:
        return text
    ellipsis = "..." if encoding_of(text) == "GSM-7" else "…"

    def fits(length: int) -> bool:
        return segments(text[:length].rstrip() + ellipsis)[1] <= max_segments

    # Fitting only grows harder with a longer prefix: the longest one that fits, by bisection.
    low, high = 0, len(text)  # fits(low) holds (the ellipsis alone is one segment); fits(high) does not
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    prefix = text[:low]
    # End on a whole word when that costs little: a cut word reads worse than a slightly shorter message.
    space = prefix.rfind(" ")
    if space >= max(1, len(prefix) - 15):
        prefix = prefix[:space]
    return prefix.rstrip() + ellipsis
