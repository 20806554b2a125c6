"""The personal data tests submit: drawn fresh, plausible, and found by the scans in every spelling."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

from paht_shared.testing import pii


def test_each_draw_is_a_different_plausible_reporter() -> None:
    """Four-part Vietnamese name, a CCCD of a real province, a mobile number; no two draws alike."""
    people = [pii.PersonalData.generate() for _ in range(20)]
    assert len({p.phone for p in people}) == 20
    assert len({p.cccd for p in people}) == 20
    for person in people:
        assert len(person.full_name.split()) == 4
        assert re.fullmatch(r"(092|093|094)[0-3]\d{8}", person.cccd), person.cccd[:4]
        assert re.fullmatch(r"0[35789]\d{8}", person.phone)
        assert re.fullmatch(r"[a-z]+\.[a-z]+\.\d{5}@example\.vn", person.email)
    assert pii.sample_report()["reporter"] == {
        "full_name": pii.FULL_NAME,
        "address": pii.ADDRESS,
        "cccd": pii.CCCD,
        "phone": pii.PHONE,
        "email": pii.EMAIL,
    }


def test_leaks_are_found_in_escaped_decomposed_and_international_spellings() -> None:
    """A leak hidden by JSON escaping, NFD normalisation or the +84 prefix is still a leak."""
    person = pii.PersonalData.generate()
    assert pii.find_leaks(json.dumps({"n": person.full_name}), person) == ["full_name"]  # ensure_ascii: \u1ec5…
    assert pii.find_leaks(unicodedata.normalize("NFD", person.address), person) == ["address"]
    assert pii.find_leaks(f"call +84{person.phone[1:]}", person) == ["phone"]
    assert pii.find_leaks(f"{person.cccd} {person.email}", person) == ["cccd", "email"]
    assert pii.find_leaks("report 31507 PA-MFYP4EZC count 1000", person) == []
    assert pii.find_leaks(person.phone, pii.PersonalData.generate()) == []  # another run's data is not looked for


def test_values_survive_the_file_the_scanners_read(tmp_path: Path) -> None:
    """The session writes its values for the post-run scan; loading them gives the same person."""
    path = tmp_path / pii.VALUES_FILE
    pii.PERSON.save(path)
    assert pii.PersonalData.load(path) == pii.PERSON
    assert path.stat().st_mode & 0o077 == 0  # readable by the owner only


def test_file_scan_names_the_file_and_the_kind_never_the_value(tmp_path: Path) -> None:
    """A scan's output goes to a log too: it must not repeat what it found."""
    person = pii.PersonalData.generate()
    (tmp_path / "clean.log").write_text('{"event": "report_received"}\n')
    (tmp_path / "leaky.log").write_text(json.dumps({"event": "x", "note": person.full_name}) + "\n")
    report = pii.scan_files(sorted(tmp_path.iterdir()), person)
    assert report.scanned == 2
    assert [str(leak) for leak in report.leaks] == [f"{tmp_path / 'leaky.log'}: full_name"]
