"""Optional key lines in a mail's body ("Lĩnh vực: Môi trường", "Phường/Xã: Phú Lợi") -> report fields.

The reply to an incomplete report tells the citizen to answer with such lines, and some write them anyway.
A line that cannot be used (an unknown category, a ward outside the province, a wrong phone number) is simply
not used: the report is never refused for an extra it did not need, and the text stays in the content.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from intake import domain
from paht_shared import reference
from paht_shared.text import fold, normalize_text

# Folded key -> the field it fills. Written as citizens write them, with and without diacritics.
_KEYS = {
    "linh vuc": "category",
    "loai": "category",
    "loai phan anh": "category",
    "danh muc": "category",
    "phuong/xa": "ward_name",
    "phuong xa": "ward_name",
    "phuong": "ward_name",
    "xa": "ward_name",
    "xa/phuong": "ward_name",
    "dia chi": "address_text",
    "dia diem": "address_text",
    "noi xay ra": "address_text",
    "dien thoai": "phone",
    "so dien thoai": "phone",
    "sdt": "phone",
}
_KEY_LINE = re.compile(r"^\s*([^:\n]{2,20}?)\s*:\s*(.+?)\s*$", re.MULTILINE)
_MAX_VALUE = 200


@dataclass(frozen=True)
class StructuredLines:
    category: str | None = None  # a category code of the reference data
    ward_name: str | None = None  # as typed; it resolved to a ward of the tenant
    address_text: str | None = None
    phone: str | None = None  # E.164


def read_structured(body: str, ward_names: Mapping[str, str]) -> StructuredLines:
    """The usable key lines of `body` (the first of each kind); `ward_names`: the tenant's ward lookup."""
    found: dict[str, str] = {}
    for match in _KEY_LINE.finditer(body):
        field = _KEYS.get(fold(match.group(1)))
        value = normalize_text(match.group(2))[:_MAX_VALUE]
        if field is not None and field not in found and value:
            found[field] = value
    ward = found.get("ward_name")
    if ward is not None and domain.resolve_ward_name(ward, ward_names) is None:
        ward = None
    phone = found.get("phone")
    return StructuredLines(
        category=category_code(found["category"]) if "category" in found else None,
        ward_name=ward,
        address_text=found.get("address_text"),
        phone=domain.normalize_phone(phone) if phone else None,
    )


def category_code(value: str) -> str | None:
    """An active category by its code or its name in any spelling ("moi truong", "Môi trường (khác)")."""
    wanted = _words(value)
    starts: list[str] = []
    for category in reference.categories():
        if not category.active:
            continue
        short = re.sub(r"\s*\(.*?\)\s*", " ", category.name)  # "Môi trường (khác)" -> "Môi trường"
        if fold(value) == category.code or wanted in (_words(category.name), _words(short)):
            return category.code
        if wanted == _words(short.split(",")[0]):  # "rác thải" for "Rác thải, vệ sinh nơi công cộng"
            starts.append(category.code)
    return starts[0] if len(starts) == 1 else None


def _words(text: str) -> str:
    """Folded words without punctuation: "Thoát nước, ngập úng" and "thoat nuoc ngap ung" compare equal."""
    return " ".join(re.sub(r"[^\w]+", " ", fold(text)).split())
