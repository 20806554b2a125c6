"""Text helpers: folding for search, cleaning before checks, and masking personal data typed into free text."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paht_shared.logging import REDACTED, redact_text
from paht_shared.testing import pii
from paht_shared.text import MASK, clean_name, fold, is_person_name, mask_personal_data, normalize_text

# --- fold --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Ngập NƯỚC  ở Phường Sóc Trăng", "ngap nuoc o phuong soc trang"),
        ("ngập nước", "ngap nuoc"),
        ("Đường", "duong"),
        ("đường ĐI", "duong di"),
        ("  Cần\tThơ\n", "can tho"),
        ("Nguye\u0302\u0303n", "nguyen"),  # NFD, as some keyboards send it
        ("ＮＧẬＰ　ｎước", "ngap nuoc"),  # full-width letters and ideographic space (NFKC)
        ("", ""),
    ],
)
def test_fold_ignores_case_diacritics_and_spacing(text: str, folded: str) -> None:
    """Lower case, no diacritics, đ as d, one space between words: what search and aliases compare."""
    assert fold(text) == folded


def test_fold_keeps_letters_of_other_scripts_whole() -> None:
    """Only Latin-style diacritics go: Korean syllables that NFD splits into jamo come back composed."""
    assert fold("한국 Ωμέγα") == "한국 ωμεγα"


@given(st.text())
def test_fold_is_stable(text: str) -> None:
    """Folding a folded text changes nothing, so stored and queried text can be folded at different times."""
    assert fold(fold(text)) == fold(text)


# --- normalize_text ----------------------------------------------------------------------------------


def test_normalize_text_composes_trims_and_drops_control_characters() -> None:
    """NFC, \\r\\n and \\r as \\n, tabs and newlines kept, other C0/C1 controls removed, ends trimmed."""
    assert normalize_text("  Nga\u0302\u0323p\x00 nu\u031bo\u031b\u0301c\r\nhai\rba\tbốn\x7f\x85 \n") == (
        "Ngập nước\nhai\nba\tbốn"
    )
    assert normalize_text("e\x00\u0301") == "é"  # the removed control no longer keeps the accent apart
    assert normalize_text("\x00\x01 \r\n ") == ""


@given(st.text())
def test_normalize_text_is_stable_and_clean(text: str) -> None:
    """The result is NFC, has no control character but tab and newline, and normalising it again is a no-op."""
    result = normalize_text(text)
    assert unicodedata.is_normalized("NFC", result)
    assert all(c in "\t\n" or unicodedata.category(c) != "Cc" for c in result)
    assert normalize_text(result) == result


# --- names -------------------------------------------------------------------------------------------


def test_clean_name_composes_trims_and_collapses_whitespace() -> None:
    """Any run of whitespace (tab, newline, no-break space) becomes one space; NFD becomes NFC."""
    assert clean_name("  Trần \t Văn\u00a0\u00a0Bảo \n") == "Trần Văn Bảo"
    assert clean_name("Le\u0302 An") == "Lê An"
    assert clean_name("   ") == ""


@pytest.mark.parametrize(
    "name", ["Nguyễn Thị Ánh-Tuyết", "O'Neil Trần", "O’Neil Trần", "Thạch Sô Phol", "Lê", "张伟", "Đặng Hoài Thu"]
)
def test_person_names_of_letters_apostrophes_and_hyphens_pass(name: str) -> None:
    """Letters of any script, with spaces, apostrophes (' and ’) and hyphens between them."""
    assert is_person_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "Nguyen 123",
        "<script>",
        "   ",
        "@@",
        "",
        "-'",  # punctuation only: no letter
        "Nguyễn  Văn",  # not cleaned: double space
        " Nguyễn Văn",  # not cleaned: untrimmed
        "Nguyễn\tVăn",  # not cleaned: tab
        "\u0302An",  # a combining mark with no letter before it
        "Nguyễn\u200bVăn",  # zero-width space
        "Nguyễn_Văn",
        "Nguyễn Văn ２",  # full-width digit
    ],
)
def test_names_with_digits_symbols_or_untidy_spacing_are_refused(name: str) -> None:
    """Digits, symbols, markup and invisible characters are refused, and so is a name clean_name did not tidy."""
    assert not is_person_name(name)


def test_names_in_khmer_script_pass() -> None:
    """Khmer writes vowels as combining signs after a consonant: a Khmer name is letters and signs."""
    assert is_person_name(clean_name("ថាច់ សុផល"))
    assert is_person_name("Thạch Sô Phol")


def test_cleaned_names_pass_where_raw_ones_do_not() -> None:
    """The intended use: clean first, then check."""
    raw = "  Trần   Văn\tBảo "
    assert not is_person_name(raw)
    assert is_person_name(clean_name(raw))


# --- masking: phones ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "0912345678",
        "0912 345 678",
        "0912.345.678",
        "091-234-5678",
        "+84 912 345 678",
        "+84912345678",
        "84912345678",
        "0084 912 345 678",
        "(+84) 912-345-678",
        "+84 (0) 912 345 678",
        "(091) 234 5678",
        "0912\u00a0345\u00a0678",  # no-break spaces, as word processors paste them
        "０９１２３４５６７８",  # full-width digits from a phone keyboard
        "＋８４ ９１２ ３４５ ６７８",
        "01689123456",  # pre-2018 11-digit mobile: the fixed prefix swap gives today's number away
    ],
)
def test_mobile_numbers_are_masked_in_every_common_spelling(phone: str) -> None:
    """Spaces, dots, dashes, parentheses, +84 / 84 / 0084, (0), no-break spaces and full-width digits."""
    assert mask_personal_data(f"Liên hệ {phone} để biết thêm.") == f"Liên hệ {MASK} để biết thêm."


@pytest.mark.parametrize("prefix", ["03", "05", "07", "08", "09"])
def test_every_mobile_prefix_is_masked(prefix: str) -> None:
    """A 10-digit run starting 03, 05, 07, 08 or 09 is a mobile number."""
    assert mask_personal_data(f"sđt {prefix}12345678") == f"sđt {MASK}"


@pytest.mark.parametrize(
    "landline",
    ["(0292) 3821 234", "0292 3821 234", "0292.3821.234", "02923821234", "028 3829 1234", "+84 292 3821 234"],
)
def test_landlines_are_masked(landline: str) -> None:
    """02 + 9 digits (11 in all), area code in parentheses or not, or +84 then 2…."""
    assert mask_personal_data(f"Gọi {landline}, giờ hành chính") == f"Gọi {MASK}, giờ hành chính"


@pytest.mark.parametrize(
    "text",
    [
        "gọi 0912345678.",  # sentence end
        "gọi 0912345678, hoặc",
        "sdt0912345678",  # glued to the word before
        "(0912345678)",
        "SĐT:0912345678",
    ],
)
def test_phones_next_to_punctuation_and_words_are_masked(text: str) -> None:
    """What sits right before or after the number does not hide it."""
    assert "0912345678" not in mask_personal_data(text)
    assert MASK in mask_personal_data(text)


# --- masking: CCCD, CMND, email ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "cccd", ["094090001234", "094 090 001234", "0940 9000 1234", "094.090.001234", "0940-9000-1234"]
)
def test_cccd_is_masked_plain_and_grouped(cccd: str) -> None:
    """12 digits, plain or in 3/3/6 and 4/4/4 groups."""
    assert mask_personal_data(f"CCCD: {cccd} cấp ngày") == f"CCCD: {MASK} cấp ngày"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("CMND 123456789", f"CMND {MASK}"),
        ("cmnd số: 123 456 789", f"cmnd số: {MASK}"),
        ("số CMT của tôi là 123456789.", f"số CMT của tôi là {MASK}."),
        ("Chứng minh nhân dân 123456789", f"Chứng minh nhân dân {MASK}"),
        ("mã hồ sơ 123456789", "mã hồ sơ 123456789"),  # nine digits without the keyword stay
        ("CMND\n\n123456789", "CMND\n\n123456789"),  # a keyword in another paragraph does not count
    ],
)
def test_nine_digit_cmnd_only_after_its_keyword(text: str, masked: str) -> None:
    """The old 9-digit CMND is masked when a keyword (CMND, CMT, chứng minh nhân dân) names it just before."""
    assert mask_personal_data(text) == masked


@pytest.mark.parametrize("email", ["an.nguyen@example.vn", "tran+paht@mail.gov.vn", "nguyễn_an@gmail.com"])
def test_emails_are_masked(email: str) -> None:
    """Dots, plus tags, sub-domains and Vietnamese letters in the local part."""
    assert mask_personal_data(f"Email: {email}.") == f"Email: {MASK}."


def test_an_email_with_a_phone_inside_is_one_mask() -> None:
    """Overlapping finds merge: one mask, nothing of the address left."""
    assert mask_personal_data("mail 0912345678@gmail.com nhé") == f"mail {MASK} nhé"


def test_several_finds_are_each_masked() -> None:
    """Everything found is masked, and the text between finds is kept as it was."""
    text = "Tôi 0912345678, vợ 0987 654 321, email a@b.vn, CCCD 094090001234."
    assert mask_personal_data(text) == f"Tôi {MASK}, vợ {MASK}, email {MASK}, CCCD {MASK}."


# --- masking: what must survive ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Năm 2026 đã có 3 lần ngập",
        "thiệt hại 15.000.000 đồng",  # 8 digits: an amount
        "dự toán 150.000.000 đồng",
        "ngân sách 10.912.345.678 đồng",  # the tail 0912.345.678 is not a phone
        "tổng 84.912.345.678 đồng",  # 84… grouped in thousands is an amount, not +84
        "ngày 12/11/2026 lúc 08:30",
        "2026-11-27T08:30:00+07:00",
        "gọi 1022 hoặc 113, 114, 115",  # service numbers
        "phường 31507, tổ 12, khu phố 3",
        "report 233cf5e4-0e4c-4919-9896-77be5b682288 PA-MFYP4EZC",
        "số 09123456789 thừa một chữ số",  # 11 digits from 09: not a number anyone has
        "mã 1234567890123",  # 13 digits: neither a phone nor a CCCD
        "diện tích 1.234,5 m2",
    ],
)
def test_years_amounts_dates_and_codes_survive(text: str) -> None:
    """Numbers that are not personal data stay readable."""
    assert mask_personal_data(text) == text


# --- masking: names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    [
        "Nguyễn Văn An",
        "nguyen van an",
        "NGUYỄN VĂN AN",
        "Nguyễn  Văn An",
        "Nguyễn\nVăn\tAn",
        "Nguyen Van An",
        "Nguye\u0302\u0303n Va\u0306n An",  # NFD
        "nguyễn văn an",
    ],
)
def test_the_reporters_name_is_masked_in_any_case_accents_or_spacing(spelling: str) -> None:
    """The full name, whole, whatever the case, the diacritics (present, absent, decomposed) and the spacing."""
    assert mask_personal_data(f"Tôi là {spelling}, ở phường 7.", ["Nguyễn Văn An"]) == f"Tôi là {MASK}, ở phường 7."


def test_a_name_is_matched_as_whole_words_only() -> None:
    """ "Nguyễn Văn An" does not mask "Nguyễn Văn Anh", nor a street named after someone else."""
    text = "Nhà ông Nguyễn Văn Anh trên đường Nguyễn Văn Cừ"
    assert mask_personal_data(text, ["Nguyễn Văn An"]) == text
    assert mask_personal_data("Bàn giao", ["An"]) == "Bàn giao"


def test_names_given_untidy_still_match_and_short_ones_are_ignored() -> None:
    """The name given is folded too (spaces, NFD); a name under two characters or blank masks nothing."""
    assert mask_personal_data("Lê An gọi", ["  Le\u0302   An "]) == f"{MASK} gọi"
    assert mask_personal_data("A B C", ["A", " ", ""]) == "A B C"


def test_names_up_to_twice_the_longest_valid_are_masked_longer_ones_ignored() -> None:
    """A 100-character name (the longest a reporter may give) is masked; past 200 it is not a name."""
    longest = " ".join(["Nguyễn"] * 14 + ["Văn"] * 3)[:100].strip()
    assert mask_personal_data(f"Tôi là {longest}.", [longest]) == f"Tôi là {MASK}."
    absurd = "a" * 201
    assert mask_personal_data(absurd, [absurd]) == absurd


def test_several_names_and_apostrophes() -> None:
    """Each given name is masked; ' and ’ are the same apostrophe."""
    text = "O’Neil Trần và Trần Thị Bé"
    assert mask_personal_data(text, ["O'Neil Trần", "Trần Thị Bé"]) == f"{MASK} và {MASK}"


def test_this_sessions_reporter_leaves_no_trace() -> None:
    """The generated person's name, phone (also as +84), CCCD and email typed into one text are all masked."""
    person = pii.PersonalData.generate()
    text = (
        f"Tôi là {person.full_name.upper()}, gọi {person.phone} hoặc +84{person.phone[1:]}, "
        f"CCCD {person.cccd}, email {person.email}."
    )
    masked = mask_personal_data(text, [person.full_name])
    assert pii.find_leaks(masked, person) == []
    assert fold(person.full_name) not in fold(masked)


# --- masking: robustness and logs --------------------------------------------------------------------

TRICKY = [
    "",
    "0",
    "0" * 10_000,
    "1234567890" * 1_000,
    "a" * 10_000 + "@",  # a long local part without a domain: linear time, not quadratic
    "@" * 1_000,
    "x@" * 1_000,
    "💥🇻🇳👨‍👩‍👧" * 100,
    "\u202e0912345678\u202c",  # right-to-left override around a number
    "\u200f\u200e\u061c",
    "a\u0301\u0302\u0303" * 500,
    "\u0301",
    "\ud800",  # lone surrogate
    "\x00\x1f\x7f",
    "+84" * 1_000,
    "(" * 500 + "0912345678" + ")" * 500,
    "CMND " * 2_000,
    "ngập " * 2_000,
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_texts_do_not_raise(text: str) -> None:
    """Empty, only digits, emoji, bidi marks, combining marks, surrogates, 10,000 characters: a string back."""
    for names in ((), ["Nguyễn Văn An"], ["\u0301\u0301"], [text]):
        assert isinstance(mask_personal_data(text, names), str)


@settings(max_examples=300, deadline=None)
@given(st.text(), st.lists(st.text(max_size=30), max_size=3))
def test_masking_never_raises(text: str, names: list[str]) -> None:
    """Any string, any names."""
    assert isinstance(mask_personal_data(text, names), str)


@given(st.text(alphabet=st.characters(exclude_categories=["Nd"], exclude_characters="@＠")))
def test_text_without_digits_at_signs_or_names_comes_back_unchanged(text: str) -> None:
    """Nothing to find, nothing touched: not even normalisation."""
    assert mask_personal_data(text) == text


words = st.text(alphabet="aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạ ,.", max_size=40)


@given(
    before=words,
    after=words,
    prefix=st.sampled_from(["03", "05", "07", "08", "09", "+84 3", "+849", "84 7"]),
    digits=st.text(alphabet="0123456789", min_size=8, max_size=8),
    separator=st.sampled_from(["", " ", ".", "-"]),
)
def test_any_mobile_number_in_any_text_is_masked(
    before: str, after: str, prefix: str, digits: str, separator: str
) -> None:
    """Whatever words surround it and however its digits are grouped, a mobile number does not survive."""
    number = prefix + digits[:3] + separator + digits[3:6] + separator + digits[6:]
    masked = mask_personal_data(f"{before} {number} {after}")
    assert digits[3:6] + separator + digits[6:] not in masked
    assert MASK in masked


def test_logs_are_redacted_with_the_same_patterns() -> None:
    """redact_text hides what mask_personal_data hides, with the log marker instead."""
    text = "gọi (0292) 3821 234 hoặc ０９１２３４５６７８, CMND 123456789, a@b.vn, năm 2026"
    assert redact_text(text) == mask_personal_data(text).replace(MASK, REDACTED)
    assert redact_text(text).count(REDACTED) == 4
