"""The form's pick lists (categories grouped by field, wards and communes), from intake's API.

They change only when the province edits its reference data, so each process keeps them for a few minutes
instead of asking intake on every page.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiohttp import web

from paht_shared import reference
from paht_shared.text import fold
from portal.app_keys import BACKENDS

FRESH_SECONDS = 300.0


@dataclass(frozen=True)
class Choice:
    code: str
    name: str


@dataclass(frozen=True)
class CategoryGroup:
    """A field (lĩnh vực) and its categories: one <optgroup> of the category picker."""

    name: str
    categories: tuple[Choice, ...]


@dataclass(frozen=True)
class PickLists:
    categories: tuple[CategoryGroup, ...]
    wards: tuple[Choice, ...]

    def category_name(self, code: str) -> str:
        return next((c.name for g in self.categories for c in g.categories if c.code == code), code)

    def ward_name(self, code: str) -> str:
        return next((w.name for w in self.wards if w.code == code), code)


class PickListCache:
    def __init__(self) -> None:
        self._lists: PickLists | None = None
        self._fetched_at = 0.0

    async def get(self, request: web.Request) -> PickLists:
        """The lists, fetched again when older than FRESH_SECONDS; raises Unavailable if intake is away."""
        if self._lists is None or time.monotonic() - self._fetched_at > FRESH_SECONDS:
            backends = request.app[BACKENDS]
            categories = await backends.call("intake", "GET", "/api/v1/categories")
            wards = await backends.call("intake", "GET", "/api/v1/wards")
            self._lists = PickLists(_grouped(categories.body or []), _wards(wards.body or []))
            self._fetched_at = time.monotonic()
        return self._lists


PICK_LISTS = web.AppKey("pick_lists", PickListCache)


def _grouped(categories: list[dict[str, str]]) -> tuple[CategoryGroup, ...]:
    """Categories in intake's order, grouped under their field's name (shared reference data names fields)."""
    field_names = {f.code: f.name for f in reference.fields()}
    groups: dict[str, list[Choice]] = {}
    for item in categories:
        groups.setdefault(str(item["field"]), []).append(Choice(str(item["code"]), str(item["name"])))
    return tuple(CategoryGroup(field_names.get(field, field), tuple(items)) for field, items in groups.items())


def _wards(wards: list[dict[str, str]]) -> tuple[Choice, ...]:
    # Alphabetical by the name without its "Phường"/"Xã" prefix: how people look for their ward.
    return tuple(
        sorted(
            (Choice(str(w["code"]), str(w["name"])) for w in wards),
            key=lambda c: fold(c.name.split(" ", 1)[-1]),
        )
    )
