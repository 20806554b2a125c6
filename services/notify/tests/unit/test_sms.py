"""SMS length: encoding and segment counts as the operators bill them, and shortening to fit."""

from __future__ import annotations

import pytest

from notify.sms import fit_sms, segments

VIETNAMESE = "Cống thoát nước bị nghẹt ở đường Nguyễn Văn Cừ, phường An Khánh, đã được tiếp nhận và xử lý. "


def test_plain_ascii_fills_one_message_at_160_and_splits_into_153_after() -> None:
    """160 GSM-7 characters are one message; 161 need two (153 + 8)."""
    assert segments("a" * 160) == ("GSM-7", 1)
    assert segments("a" * 161) == ("GSM-7", 2)
    assert segments("a" * 306) == ("GSM-7", 2)
    assert segments("a" * 307) == ("GSM-7", 3)


def test_the_extension_table_costs_two_septets() -> None:
    """The euro sign (like "[", "{", "~") stays GSM-7 but takes an escape septet as well."""
    assert segments("€" * 80) == ("GSM-7", 1)
    assert segments("€" * 81) == ("GSM-7", 2)
    assert segments("a" * 159 + "[") == ("GSM-7", 2)


def test_an_escaped_character_is_not_split_across_segments() -> None:
    """A two-septet character that would straddle a segment boundary starts the next segment."""
    assert segments("a" * 152 + "€" + "a" * 152) == ("GSM-7", 3)  # 152 | 2+151 | 1
    assert segments("a" * 151 + "€" + "a" * 153) == ("GSM-7", 2)  # 153 | 153


def test_gsm_letters_with_accents_stay_gsm7() -> None:
    """The GSM alphabet has a few accented letters (é, è, à, ñ …): they do not force UCS-2."""
    assert segments("Café à Nha Trang, señor") == ("GSM-7", 1)


@pytest.mark.parametrize(("length", "expected"), [(70, 1), (71, 2), (134, 2), (135, 3)])
def test_vietnamese_goes_as_ucs2_with_70_and_then_67(length: int, expected: int) -> None:
    """One Vietnamese letter ("ộ", "đ" …) makes the message UCS-2: 70 units, or 67 per segment."""
    text = ("đ" + "ộ" * (length - 1))[:length]
    assert segments(text) == ("UCS-2", expected)


def test_one_non_gsm_character_turns_the_whole_message_ucs2() -> None:
    """159 ASCII letters and one "ư" are no longer one message: UCS-2 counts all 160 at 67 per segment."""
    assert segments("a" * 159 + "ư") == ("UCS-2", 3)


def test_an_emoji_counts_two_utf16_units() -> None:
    """Outside the BMP a character is a surrogate pair: 35 emoji fill one message, 36 do not."""
    assert segments("😀" * 35) == ("UCS-2", 1)
    assert segments("😀" * 36) == ("UCS-2", 2)
    # 67 is odd: a segment holds 33 emoji (66 units), the 34th cannot be split and moves on.
    assert segments("😀" * 66) == ("UCS-2", 2)
    assert segments("😀" * 67) == ("UCS-2", 3)


def test_an_empty_text_is_one_message() -> None:
    """Nothing to say still costs one message."""
    assert segments("") == ("GSM-7", 1)


def test_fit_sms_leaves_a_text_that_fits_alone() -> None:
    """A text within the limit comes back unchanged, with no ellipsis."""
    assert fit_sms(VIETNAMESE[:60], 1) == VIETNAMESE[:60]
    assert fit_sms("a" * 160, 1) == "a" * 160


@pytest.mark.parametrize("max_segments", [1, 2, 3])
def test_fit_sms_shortens_vietnamese_to_the_segment_budget(max_segments: int) -> None:
    """A long Vietnamese answer is cut to a prefix ending in "…" that fits, using most of the budget."""
    text = VIETNAMESE * 5
    fitted = fit_sms(text, max_segments)
    assert fitted.endswith("…")
    assert text.startswith(fitted.removesuffix("…"))
    assert segments(fitted) == ("UCS-2", max_segments)
    budget = 70 if max_segments == 1 else 67 * max_segments
    assert len(fitted) > budget - 16  # cut at a word boundary, not far before the limit


def test_fit_sms_keeps_a_gsm_text_in_gsm7() -> None:
    """A GSM-7 text ends in "..." rather than "…", which would make it UCS-2 and halve what fits."""
    text = "Your report PA-ABCD2345 was answered. " * 10
    fitted = fit_sms(text, 1)
    assert fitted.endswith("...")
    assert segments(fitted) == ("GSM-7", 1)
    assert len(fitted) > 140


def test_fit_sms_cuts_a_text_without_spaces_mid_word() -> None:
    """With no word boundary nearby the cut falls exactly at the limit."""
    assert fit_sms("ộ" * 200, 1) == "ộ" * 69 + "…"


def test_fit_sms_needs_at_least_one_segment() -> None:
    """Zero segments cannot hold anything: a caller's mistake, said loudly."""
    with pytest.raises(ValueError, match="at least 1"):
        fit_sms("x", 0)
