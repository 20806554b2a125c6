"""Reference data every service agrees on: categories (from the repo) and wards (vietnam-provinces)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml
from vietnam_provinces import ProvinceCode, Ward


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    sla_working_days: int
    active: bool = True  # an inactive category stays readable on old reports but takes no new ones


@dataclass(frozen=True)
class Area:
    """A named area kept for addresses and statistics: a former district (before 1 July 2025)."""

    code: str
    name: str
    aliases: tuple[str, ...]


@cache
def areas() -> tuple[Area, ...]:
    text = (resources.files("paht_shared.reference") / "areas.yaml").read_text(encoding="utf-8")
    return tuple(
        Area(code=item["code"], name=item["name"], aliases=tuple(item["aliases"]))
        for item in yaml.safe_load(text)["areas"]
    )


@cache
def categories() -> tuple[Category, ...]:
    text = (resources.files("paht_shared.reference") / "categories.yaml").read_text(encoding="utf-8")
    return tuple(Category(**item) for item in yaml.safe_load(text)["categories"])


def category(code: str) -> Category | None:
    return next((c for c in categories() if c.code == code), None)


@cache
def wards(province_code: int) -> dict[str, str]:
    """Ward/commune code -> name for one province (current two-level structure, no districts)."""
    # " ".join(split()): the package spells a few names with a double space ("Xã  Phú Hữu")
    return {
        str(int(w.code)).zfill(5): " ".join(w.name.split()) for w in Ward.iter_by_province(ProvinceCode(province_code))
    }
