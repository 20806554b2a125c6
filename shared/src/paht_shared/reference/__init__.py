"""Reference data every service agrees on: categories (from the repo) and wards (vietnam-provinces)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml
from vietnam_provinces import ProvinceCode, Ward


@dataclass(frozen=True)
class Field:
    """A field (lĩnh vực): the group a citizen picks first."""

    code: str
    name: str


@dataclass(frozen=True)
class Category:
    """A category (chuyên mục) of reports, inside one field."""

    code: str
    name: str
    field: str  # the field's code
    deadline_class: str
    working_days: int  # the answer deadline of its class, in working days from reception
    public_allowed: bool  # whether the citizen may ask for publication
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
def _categories_file() -> tuple[dict[str, int], tuple[Field, ...], tuple[Category, ...]]:
    text = (resources.files("paht_shared.reference") / "categories.yaml").read_text(encoding="utf-8")
    return parse_categories(yaml.safe_load(text))


def parse_categories(data: Mapping[str, Any]) -> tuple[dict[str, int], tuple[Field, ...], tuple[Category, ...]]:
    """The deadline classes, fields and categories of a categories file; ValueError naming every problem."""
    classes = {str(name): int(days) for name, days in data["deadline_classes"].items()}
    problems = [f"deadline class {name}: {days} working days" for name, days in classes.items() if days <= 0]
    fields: list[Field] = []
    found: list[Category] = []
    for item in data["fields"]:
        field = Field(code=item["code"], name=item["name"])
        fields.append(field)
        for entry in item["categories"]:
            deadline_class = entry["deadline_class"]
            if deadline_class not in classes:
                problems.append(f"category {entry['code']}: unknown deadline class {deadline_class}")
            found.append(
                Category(
                    code=entry["code"],
                    name=entry["name"],
                    field=field.code,
                    deadline_class=deadline_class,
                    working_days=classes.get(deadline_class, 0),
                    public_allowed=bool(entry["public_allowed"]),
                    active=bool(entry.get("active", True)),
                )
            )
    codes = [f.code for f in fields] + [c.code for c in found]
    # One namespace for fields and categories: a client given a bare code never has to guess which it is.
    problems += [f"code {code} used twice" for code in sorted({c for c in codes if codes.count(c) > 1})]
    if problems:
        raise ValueError("categories file: " + "; ".join(problems))
    return classes, tuple(fields), tuple(found)


def deadline_classes() -> dict[str, int]:
    """Deadline class -> working days."""
    return dict(_categories_file()[0])


def fields() -> tuple[Field, ...]:
    return _categories_file()[1]


def categories() -> tuple[Category, ...]:
    return _categories_file()[2]


def category(code: str) -> Category | None:
    return next((c for c in categories() if c.code == code), None)


@cache
def wards(province_code: int) -> dict[str, str]:
    """Ward/commune code -> name for one province (current two-level structure, no districts)."""
    # " ".join(split()): the package spells a few names with a double space ("Xã  Phú Hữu")
    return {
        str(int(w.code)).zfill(5): " ".join(w.name.split()) for w in Ward.iter_by_province(ProvinceCode(province_code))
    }
