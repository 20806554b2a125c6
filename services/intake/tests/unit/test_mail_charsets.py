"""Legacy Vietnamese encodings, with bytes from sources independent of our tables.

- TCVN3/VN1 and Windows-1258 bytes: produced by GNU libc's iconv (`iconv -f UTF-8 -t TCVN5712-1` and
  `-t WINDOWS-1258`, glibc's own charmaps), pasted here as bytes.
- VNI and TCVN3 phrases: the test data of the npm package vietnamese-conversion (duydev), shown there as the
  Latin-1 characters of the bytes ("Xin chaøo caùc baïn").
"""

from __future__ import annotations

import pytest

from intake.mail.charsets import decode_tcvn3, decode_text, decode_vni, vietnamese_score

SENTENCE = "Đường Lê Lợi ngập nước sau cơn mưa, rác thải tồn đọng trước chợ Sóc Trăng"
# glibc iconv -t TCVN5712-1
SENTENCE_TCVN = (
    b"\xa7\xad\xeang L\xaa L\xeei ng\xcbp n\xad\xedc sau c\xacn m\xada, r\xb8c th\xb6i t\xe5n \xae\xe4ng tr\xad\xedc "
    b"ch\xee S\xe3c Tr\xa8ng"
)
# glibc iconv -t WINDOWS-1258 (tones as combining marks, as Windows writes them)
SENTENCE_CP1258 = (
    b"\xd0\xfd\xf5\xccng L\xea L\xf5\xf2i ng\xe2\xf2p n\xfd\xf5\xecc sau c\xf5n m\xfda, r\xe1c tha\xd2i t\xf4\xccn "
    b"\xf0o\xf2ng tr\xfd\xf5\xecc ch\xf5\xf2 S\xf3c Tr\xe3ng"
)
CULVERT = "Cống thoát nước bị vỡ"
CULVERT_TCVN = b"C\xe8ng tho\xb8t n\xad\xedc b\xde v\xec"  # glibc iconv -t TCVN5712-1
CULVERT_CP1258 = b"C\xf4\xecng tho\xe1t n\xfd\xf5\xecc bi\xf2 v\xf5\xde"  # glibc iconv -t WINDOWS-1258

# vietnamese-conversion's test phrases: (unicode, VNI as Latin-1, TCVN3 as Latin-1)
PHRASES = [
    ("Xin chào các bạn", "Xin chaøo caùc baïn", "Xin chµo c¸c b¹n"),
    ("Tôi đi học", "Toâi ñi hoïc", "T«i ®i häc"),
]


def test_tcvn3_tables_read_glibc_s_bytes() -> None:
    """Bytes glibc's iconv wrote for TCVN 5712 read back as the sentence."""
    assert decode_tcvn3(SENTENCE_TCVN) == SENTENCE
    assert decode_tcvn3(CULVERT_TCVN) == CULVERT


@pytest.mark.parametrize(("unicode", "vni", "tcvn3"), PHRASES)
def test_published_vni_and_tcvn3_phrases(unicode: str, vni: str, tcvn3: str) -> None:
    """Another converter's samples decode to its Unicode text."""
    assert decode_vni(vni.encode("latin-1")) == unicode
    assert decode_tcvn3(tcvn3.encode("latin-1")) == unicode


def test_vni_capitals_horns_and_stacked_marks() -> None:
    """VNI's two-byte marks (circumflex + tone), single-byte ơ/ư/đ/ĩ/ỵ, and capitals."""
    assert decode_vni("Vieät Nam".encode("latin-1")) == "Việt Nam"  # the classic "Vieät" of VNI mail
    assert decode_vni("ÑÖÔØNG".encode("latin-1")) == "ĐƯỜNG"
    assert decode_vni("lôïi, nöôùc, ó, î".encode("latin-1")) == "lợi, nước, ĩ, ỵ"


@pytest.mark.parametrize("declared", [None, "iso-8859-1", "us-ascii", "windows-1252"])
def test_legacy_bytes_are_recognised_whatever_the_declaration(declared: str | None) -> None:
    """TCVN3, VNI and Windows-1258 bytes under a missing or wrong declaration: each read the right way."""
    tcvn = decode_text(SENTENCE_TCVN, declared)
    assert (tcvn.text, tcvn.charset) == (SENTENCE, "tcvn3")
    cp1258 = decode_text(SENTENCE_CP1258, declared)
    assert (cp1258.text, cp1258.charset) == (SENTENCE, "cp1258")
    vni = decode_text(" ".join(p[1] for p in PHRASES).encode("latin-1"), declared)
    assert (vni.text, vni.charset) == (" ".join(p[0] for p in PHRASES), "vni")


def test_windows_1258_is_normalised_to_composed_letters() -> None:
    """Windows-1258 writes tones as combining marks; the text comes out NFC (one code point per letter)."""
    text = decode_text(CULVERT_CP1258, "windows-1258").text
    assert text == CULVERT
    assert len(text) == len(CULVERT)


def test_a_meaningful_declaration_that_decodes_is_kept() -> None:
    """UTF-8 stays UTF-8; Latin-1 text that is not Vietnamese stays Latin-1."""
    assert decode_text(SENTENCE.encode(), "utf-8").text == SENTENCE
    assert decode_text(SENTENCE.encode(), None).text == SENTENCE
    french = "Café olé, naïve façade à Zürich"
    assert decode_text(french.encode("latin-1"), "iso-8859-1").text == french
    assert decode_text(b"Hello world", "us-ascii").text == "Hello world"


def test_vni_forwarded_through_a_utf8_client_is_read_again() -> None:
    """A VNI text that a UTF-8 mail client passed along as Latin-1 characters ("chaøo" in UTF-8)."""
    decoded = decode_text(PHRASES[0][1].encode("utf-8"), "utf-8")
    assert (decoded.text, decoded.charset) == (PHRASES[0][0], "vni")


def test_score_prefers_well_formed_syllables() -> None:
    """Real words score up; mojibake (two tones in a word, Latin-1 symbols) scores down."""
    assert vietnamese_score("Đường Lê Lợi nghiêng khuya") > 0
    assert vietnamese_score("Viờũt") < 0
    assert vietnamese_score("chaøo") < 0
    assert vietnamese_score("chµo c¸c") < 0
