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


@cache
def categories() -> tuple[Category, ...]:
    text = (resources.files("paht_shared.reference") / "categories.yaml").read_text(encoding="utf-8")
    return tuple(Category(**item) for item in yaml.safe_load(text)["categories"])


def category(code: str) -> Category | None:
    return next((c for c in categories() if c.code == code), None)


@cache
def wards(province_code: int) -> dict[str, str]:
    """Ward/commune code -> name for one province (current two-level structure, no districts)."""
    return {str(int(w.code)).zfill(5): w.name for w in Ward.iter_by_province(ProvinceCode(province_code))}
