"""Routing's reference data: agencies, routing rules and categories — the model, the loader, the resolver and
the admin changes.

The repo's files are the seed (`data/agencies.yaml` here, `categories.yaml` in paht_shared.reference); routing's
tables are what routing uses; the admin API edits the tables. Each row remembers who wrote it last (`Source`):
`python -m routing load-reference` writes what the files list, except rows an admin has changed since, which it
leaves alone and reports; rows an admin added are never touched. Rules the loader wrote earlier and the file no
longer lists are retired (valid_to = now), not deleted: assignments may cite them. Every change, by the loader
or by an admin, is one row of `reference_changes`, written in the same transaction.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

import asyncpg
import structlog
import yaml

from paht_shared import reference
from paht_shared.calendar import TIMEZONE
from paht_shared.contracts import topics
from paht_shared.envelope import utc_now
from paht_shared.kafka import ensure_topics
from paht_shared.reference import Area
from routing import directory_repository as repo
from routing.config import Settings
from routing.domain import Agency

log = structlog.get_logger("routing.directory")

LOADER = "load-reference"  # the actor of the loader's changes in reference_changes
WARD_COMMITTEE_PREFIX = "UBND-"
# Agency codes name Kafka topics (agency.<code>.inbox.v1) and appear in URLs: letters, digits, single dashes.
AGENCY_CODE = re.compile(r"[A-Z0-9]+(?:-[A-Z0-9]+)*")
MAX_AGENCY_CODE = 40
MAX_REPLACEMENT_CHAIN = 20  # far more mergers than any agency goes through; a guard against a corrupt cycle


class AgencyKind(StrEnum):
    DEPARTMENT = "department"  # a Sở of the province/city, or its inspectorate
    WARD_COMMITTEE = "ward_committee"  # Ủy ban nhân dân phường/xã
    UTILITY = "utility"  # electricity, water, telecom, urban works companies
    POLICE = "police"
    EMERGENCY = "emergency"  # fire and rescue, 115
    COORDINATOR = "coordinator"  # runs hotline 1022 and triage


class Source(StrEnum):
    """Who last wrote a reference row."""

    REFERENCE = "reference"  # the loader, from the repo's files
    ADMIN = "admin"  # the admin API: the loader leaves the row alone from then on


# --- the model -------------------------------------------------------------------------------------------------
# Validity: valid_from None means "since ever", valid_to None "still valid"; valid_to is the first instant a row
# no longer applies. Equality compares content only (source, updated_at and id are bookkeeping).


def valid_at(valid_from: datetime | None, valid_to: datetime | None, at: datetime) -> bool:
    return (valid_from is None or valid_from <= at) and (valid_to is None or at < valid_to)


@dataclass(frozen=True)
class AgencyEntry:
    code: str
    name: str
    kind: AgencyKind
    email: str | None = None
    ward_code: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    replaced_by: str | None = None
    source: Source = field(default=Source.REFERENCE, compare=False)
    updated_at: datetime | None = field(default=None, compare=False)

    def valid_at(self, at: datetime) -> bool:
        return valid_at(self.valid_from, self.valid_to, at)

    def as_agency(self) -> Agency:
        return Agency(code=self.code, name=self.name, email=self.email)


@dataclass(frozen=True)
class RuleKey:
    """What a rule matches and since when: unique among rules."""

    category: str
    ward_code: str | None
    area_code: str | None
    urgent: bool
    valid_from: datetime | None

    def __str__(self) -> str:
        place = f"ward {self.ward_code}" if self.ward_code else f"area {self.area_code}" if self.area_code else "all"
        since = self.valid_from.date().isoformat() if self.valid_from else "always"
        return f"{self.category}/{place}{'/urgent' if self.urgent else ''}/since {since}"


@dataclass(frozen=True)
class RuleEntry:
    category: str
    agency: str
    ward_code: str | None = None
    area_code: str | None = None
    urgent: bool = False
    co_agencies: tuple[str, ...] = ()
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    id: int | None = field(default=None, compare=False)
    source: Source = field(default=Source.REFERENCE, compare=False)
    updated_at: datetime | None = field(default=None, compare=False)

    @property
    def key(self) -> RuleKey:
        return RuleKey(self.category, self.ward_code, self.area_code, self.urgent, self.valid_from)

    def valid_at(self, at: datetime) -> bool:
        return valid_at(self.valid_from, self.valid_to, at)


@dataclass(frozen=True)
class CategoryEntry:
    code: str
    field_code: str
    field_name: str
    name: str
    deadline_class: str
    working_days: int
    public_allowed: bool
    active: bool = True
    position: int = 0  # the file's order, for forms
    source: Source = field(default=Source.REFERENCE, compare=False)
    updated_at: datetime | None = field(default=None, compare=False)


Entry = AgencyEntry | RuleEntry | CategoryEntry


@dataclass(frozen=True)
class CategoryPolicy:
    code: str
    working_days: int
    public_allowed: bool
    active: bool


@dataclass(frozen=True)
class Route:
    lead: Agency
    co_agencies: tuple[Agency, ...]
    rule_id: int


@dataclass(frozen=True)
class ReferenceData:
    """The repo's reference files, checked and expanded (ward committees and their rules made)."""

    coordinator: str
    agencies: tuple[AgencyEntry, ...]
    rules: tuple[RuleEntry, ...]
    categories: tuple[CategoryEntry, ...]
    triage_categories: frozenset[str]


class ReferenceFileError(ValueError):
    """The reference files contradict themselves; the message lists every problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("reference data: " + "; ".join(problems))
        self.problems = tuple(problems)


# --- the repo's files ------------------------------------------------------------------------------------------


def reference_file() -> dict[str, Any]:
    """The agencies and rules file as YAML data."""
    return dict(yaml.safe_load((resources.files("routing") / "data" / "agencies.yaml").read_text(encoding="utf-8")))


@cache
def tenant_province() -> int:
    """The province whose wards routing knows (the reference file's province_code)."""
    return int(reference_file()["province_code"])


def province_day(value: date | str | None) -> datetime | None:
    """A day of the reference file as the instant it starts in the province (a decree takes effect at 00:00)."""
    if value is None:
        return None
    day = value if isinstance(value, date) else date.fromisoformat(str(value))
    return datetime(day.year, day.month, day.day, tzinfo=TIMEZONE)


def ward_committee(ward_code: str, ward_name: str) -> AgencyEntry:
    """The People's Committee of one ward or commune ("Phường Sóc Trăng" -> "Ủy ban nhân dân phường Sóc Trăng")."""
    unit, _, place = ward_name.partition(" ")
    return AgencyEntry(
        code=WARD_COMMITTEE_PREFIX + ward_code,
        name=f"Ủy ban nhân dân {unit.lower()} {place}",
        kind=AgencyKind.WARD_COMMITTEE,
        email=f"ubnd-{ward_code}@paht.example",
        ward_code=ward_code,
    )


def categories_from(categories: Iterable[reference.Category], fields: Iterable[reference.Field]) -> list[CategoryEntry]:
    names = {f.code: f.name for f in fields}
    return [
        CategoryEntry(
            code=c.code,
            field_code=c.field,
            field_name=names[c.field],
            name=c.name,
            deadline_class=c.deadline_class,
            working_days=c.working_days,
            public_allowed=c.public_allowed,
            active=c.active,
            position=position,
        )
        for position, c in enumerate(categories, start=1)
    ]


def parse_reference(
    data: Mapping[str, Any],
    categories: Sequence[CategoryEntry],
    wards: Mapping[str, str],
    areas: Sequence[Area],
    now: datetime,
) -> ReferenceData:
    """The agencies file checked against the categories, wards and areas; ReferenceFileError lists every problem.

    `holidays` is not read any more (the office calendar comes from paht_shared.calendar); an old file that
    still has the key loads all the same.
    """
    problems: list[str] = []
    agencies = _file_agencies(data, wards, problems)
    coordinator = str(data.get("coordinator", ""))
    chief = agencies.get(coordinator)
    if chief is None or chief.kind is not AgencyKind.COORDINATOR or not chief.valid_at(now):
        problems.append(f"coordinator {coordinator or '(none)'} must be a valid agency of kind coordinator")
    known = {c.code for c in categories}
    rules = _file_rules(data, known, agencies, wards, {a.code for a in areas}, problems)
    triage = frozenset(str(c) for c in data.get("triage_categories", ()))
    problems += [f"triage category {c}: unknown category" for c in sorted(triage - known)]
    covered = {r.category for r in rules if not (r.ward_code or r.area_code or r.urgent) and r.valid_at(now)}
    for c in categories:
        if c.active and c.code not in covered and c.code not in triage:
            problems.append(f"category {c.code}: no category-wide rule valid now and not a triage category")
        if c.code in covered and c.code in triage:
            problems.append(f"category {c.code}: both a triage category and routed by a category-wide rule")
    if problems:
        raise ReferenceFileError(problems)
    return ReferenceData(coordinator, tuple(agencies.values()), rules, tuple(categories), triage)


def _file_agencies(data: Mapping[str, Any], wards: Mapping[str, str], problems: list[str]) -> dict[str, AgencyEntry]:
    """The listed agencies and one committee per ward, by code; what is wrong goes to `problems`."""
    agencies: dict[str, AgencyEntry] = {}
    for item in data.get("agencies", []):
        code = str(item["code"])
        try:
            kind = AgencyKind(item.get("kind", AgencyKind.DEPARTMENT))
        except ValueError:
            problems.append(f"agency {code}: unknown kind")
            continue
        entry = AgencyEntry(
            code=code,
            name=str(item["name"]),
            kind=kind,
            email=item.get("email"),
            ward_code=item.get("ward_code"),
            valid_from=province_day(item.get("valid_from")),
            valid_to=province_day(item.get("valid_to")),
            replaced_by=item.get("replaced_by"),
        )
        problems += [f"agency {code}: {p}" for p in agency_problems(entry)]
        if code in agencies:
            problems.append(f"agency {code} listed twice")
        agencies[code] = entry
    for ward_code, ward_name in wards.items():
        committee = ward_committee(ward_code, ward_name)
        if committee.code in agencies:
            problems.append(f"agency {committee.code} is made by the loader: do not list it")
        agencies[committee.code] = committee
    successors = {a.code: a.replaced_by for a in agencies.values()}
    for entry in agencies.values():
        if entry.ward_code is not None and entry.ward_code not in wards:
            problems.append(f"agency {entry.code}: unknown ward {entry.ward_code}")
        if entry.replaced_by is not None and entry.replaced_by not in agencies:
            problems.append(f"agency {entry.code}: replaced by unknown agency {entry.replaced_by}")
        elif replacement_cycle(entry.code, entry.replaced_by, successors):
            problems.append(f"agency {entry.code}: replacements form a cycle")
    return agencies


def _file_rules(
    data: Mapping[str, Any],
    categories: Set[str],
    agencies: Mapping[str, AgencyEntry],
    wards: Mapping[str, str],
    area_codes: Set[str],
    problems: list[str],
) -> tuple[RuleEntry, ...]:
    """The listed rules, local ones expanded to one per ward; what is wrong goes to `problems`."""
    rules: dict[RuleKey, RuleEntry] = {}
    for number, item in enumerate(data.get("rules", []), start=1):
        category = str(item.get("category", ""))
        where = f"rule {number} ({category})"
        if category not in categories:
            problems.append(f"{where}: unknown category")
        template = RuleEntry(
            category=category,
            agency=str(item.get("agency", "")),
            ward_code=item.get("ward_code"),
            area_code=None if item.get("area_code") is None else str(item["area_code"]),
            urgent=bool(item.get("urgent", False)),
            co_agencies=tuple(str(c) for c in item.get("co_agencies", ())),
            valid_from=province_day(item.get("valid_from")),
            valid_to=province_day(item.get("valid_to")),
        )
        made = [template]
        if item.get("local"):
            if any(item.get(k) for k in ("agency", "ward_code", "area_code")):
                problems.append(f"{where}: a local rule names neither agency nor place (one rule per ward is made)")
            made = [dataclasses.replace(template, agency=WARD_COMMITTEE_PREFIX + w, ward_code=w) for w in wards]
        for rule in made:
            found = rule_problems(rule, agencies, wards, area_codes)
            if rule.key in rules:
                found.append("same category, place, urgency and valid_from as another rule")
            if found:
                problems += [f"{where}: {p}" for p in found]
                break  # one report per line of the file, not one per ward
            rules[rule.key] = rule
    return tuple(rules.values())


def agency_problems(entry: AgencyEntry) -> list[str]:
    """What is wrong with an agency on its own (references to others are checked by the caller)."""
    problems = []
    if len(entry.code) > MAX_AGENCY_CODE or not AGENCY_CODE.fullmatch(entry.code):
        problems.append("code must be upper-case letters, digits and single dashes")
    if not entry.name.strip():
        problems.append("name is blank")
    if (entry.kind is AgencyKind.WARD_COMMITTEE) != (entry.ward_code is not None):
        problems.append("a ward committee, and only a ward committee, names its ward")
    if entry.valid_from is not None and entry.valid_to is not None and entry.valid_from >= entry.valid_to:
        problems.append("valid_to must come after valid_from")
    if entry.replaced_by == entry.code:
        problems.append("an agency cannot replace itself")
    return problems


def rule_problems(
    rule: RuleEntry, agencies: Mapping[str, AgencyEntry], wards: Mapping[str, str], area_codes: Set[str]
) -> list[str]:
    """What is wrong with a rule given the agencies, wards and areas it may name."""
    problems = []
    lead = agencies.get(rule.agency)
    if lead is None:
        problems.append(f"unknown agency {rule.agency or '(none)'}")
    elif lead.valid_to is not None and (rule.valid_to is None or rule.valid_to > lead.valid_to):
        # The rule would silently stop matching when its agency closes: retire it with the agency.
        problems.append(f"outlives its agency {rule.agency}")
    problems += [f"unknown co-processing agency {c}" for c in rule.co_agencies if c not in agencies]
    if rule.agency in rule.co_agencies or len(set(rule.co_agencies)) != len(rule.co_agencies):
        problems.append("co-processing agencies repeat each other or the lead")
    if rule.ward_code is not None and rule.area_code is not None:
        problems.append("names both a ward and an area")
    if rule.ward_code is not None and rule.ward_code not in wards:
        problems.append(f"unknown ward {rule.ward_code}")
    if rule.area_code is not None and rule.area_code not in area_codes:
        problems.append(f"unknown area {rule.area_code}")
    if rule.valid_from is not None and rule.valid_to is not None and rule.valid_from >= rule.valid_to:
        problems.append("valid_to must come after valid_from")
    return problems


def replacement_cycle(code: str, successor: str | None, replaced_by: Mapping[str, str | None]) -> bool:
    """Whether following `successor` and its own successors leads back to `code`."""
    seen = {code}
    while successor is not None:
        if successor in seen:
            return True
        seen.add(successor)
        successor = replaced_by.get(successor)
    return False


def reference_data(data: Mapping[str, Any] | None = None, now: datetime | None = None) -> ReferenceData:
    """The repo's reference files (or `data` in place of the agencies file), checked and expanded."""
    data = reference_file() if data is None else data
    province = int(data.get("province_code", tenant_province()))
    return parse_reference(
        data,
        categories_from(reference.categories(), reference.fields()),
        reference.wards(province),
        reference.areas(),
        now or utc_now(),
    )


# --- loading: what the files say, against what the tables hold -------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One reference row written: `before` None for a new row, `after` None for a removed one."""

    kind: str  # agency | rule | category
    key: str
    before: Entry | None
    after: Entry | None


@dataclass(frozen=True)
class LoadPlan:
    changes: tuple[Change, ...]
    kept: tuple[Change, ...]  # rows the file would change that an admin owns: left as they are


def plan_load(
    wanted: ReferenceData,
    agencies: Mapping[str, AgencyEntry],
    rules: Mapping[RuleKey, RuleEntry],
    categories: Mapping[str, CategoryEntry],
    now: datetime,
) -> LoadPlan:
    """What loading `wanted` into tables holding `agencies`, `rules` and `categories` changes (pure)."""
    changes: list[Change] = []
    kept: list[Change] = []

    def compare(kind: str, key: str, before: Entry | None, after: Entry) -> None:
        if before == after:
            return
        (kept if before is not None and before.source is Source.ADMIN else changes).append(
            Change(kind, key, before, after)
        )

    for agency in wanted.agencies:
        compare("agency", agency.code, agencies.get(agency.code), agency)
    for category in wanted.categories:
        compare("category", category.code, categories.get(category.code), category)
    for rule in wanted.rules:
        before = rules.get(rule.key)
        compare("rule", str(rule.key), before, rule if before is None else dataclasses.replace(rule, id=before.id))
    listed = {r.key for r in wanted.rules}
    for key, rule in rules.items():
        if key in listed or rule.source is Source.ADMIN or (rule.valid_to is not None and rule.valid_to <= now):
            continue
        if rule.valid_from is not None and rule.valid_from > now:
            changes.append(Change("rule", str(key), rule, None))  # never applied: nothing can cite it
        else:
            changes.append(Change("rule", str(key), rule, dataclasses.replace(rule, valid_to=now)))
    return LoadPlan(tuple(changes), tuple(kept))


async def load_reference(conn: asyncpg.Connection, data: Mapping[str, Any] | None = None) -> LoadPlan:
    """Load the repo's reference data (or `data` in place of the agencies file) into the tables, in one
    transaction. Idempotent: a second load changes nothing."""
    now = utc_now()
    wanted = reference_data(data, now)
    async with conn.transaction():
        await repo.lock_reference(conn)  # two deployments loading at once would race on the same rows
        plan = plan_load(
            wanted,
            {a.code: a for a in await _agencies(conn)},
            {r.key: r for r in await _rules(conn)},
            {c.code: c for c in await _categories(conn)},
            now,
        )
        for change in plan.changes:
            await _write(conn, change, LOADER)
    for change in plan.kept:
        log.warning("reference_row_kept", kind=change.kind, key=change.key, reason="changed_by_admin")
    log.info("reference_loaded", changes=len(plan.changes), kept=len(plan.kept))
    return plan


async def load_reference_data(settings: Settings, data: Mapping[str, Any] | None = None) -> None:
    """`python -m routing load-reference`: the repo's reference data into the routing schema, and every agency's
    queue topic (with its dead-letter topic) on the broker."""
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": settings.db_schema})
    try:
        await load_reference(conn, data)
        codes = [a.code for a in await _agencies(conn)]
    finally:
        await conn.close()
    # Every agency gets its queue here, where agencies are loaded, not only in one deployment script: the 103
    # ward committees too, and agencies an admin added (their topic may have been lost with a broker).
    created = await ensure_agency_queues(settings, codes)
    log.info("agency_queues_ready", agencies=len(codes), topics_created=len(created))


async def ensure_agency_queues(settings: Settings, codes: Sequence[str]) -> list[str]:
    queues = [topics.agency_inbox(code) for code in codes]
    return await ensure_topics(
        settings.kafka_bootstrap,
        topics.with_dead_letters(queues),
        settings.kafka_partitions,
        settings.kafka_replication,
    )


async def _write(conn: asyncpg.Connection, change: Change, actor: str) -> Entry | None:
    """Apply one change and record it in reference_changes; returns the row as written (rules with their id)."""
    after, key, source = change.after, change.key, _source(actor)
    if isinstance(after, AgencyEntry):
        await repo.upsert_agency(conn, after, source)
    elif isinstance(after, CategoryEntry):
        await repo.upsert_category(conn, after, source)
    elif isinstance(after, RuleEntry):
        if after.id is None:
            after = dataclasses.replace(after, id=await repo.insert_rule(conn, after, source))
        else:
            await repo.update_rule(conn, after, source)
        key = str(after.id)  # the admin API knows rules by id
    elif isinstance(change.before, RuleEntry) and change.before.id is not None:
        await repo.delete_rule(conn, change.before.id)
        key = str(change.before.id)
    await repo.record_change(conn, actor, change.kind, key, _json(change.before), _json(after))
    return after


def _source(actor: str) -> Source:
    return Source.REFERENCE if actor == LOADER else Source.ADMIN


# --- what assignment asks --------------------------------------------------------------------------------------


async def resolve_route(
    conn: asyncpg.Connection,
    category: str,
    ward_code: str | None,
    area_code: str | None,
    urgent: bool,
    at: datetime,
    excluding: frozenset[str] = frozenset(),
) -> Route | None:
    """The lead agency and co-processing agencies of the most specific rule valid at `at`, or None (the caller
    sends the report to the coordinator's triage queue).

    Urgent rules apply only to urgent reports and beat the others; then a ward's rule beats a named area's,
    which beats the category-wide one; between rules of the same match the latest valid_from wins. Rules and
    agencies must be valid at `at`. Rules led by an agency in `excluding` (it returned the report as not its
    competence) are skipped, so the next match is tried; those agencies are not co-processors either, nor are
    co-processing agencies that are closed at `at`.
    """
    found = await repo.best_rule(conn, category, ward_code, area_code, urgent, at, sorted(excluding))
    if found is None:
        return None
    lead = agency_from(found)
    wanted = [c for c in found["co_agencies"] if c not in excluding and c != lead.code]
    valid = {a.code: a for a in map(agency_from, await repo.agencies_valid_at(conn, wanted, at))}
    return Route(
        lead=lead.as_agency(),
        co_agencies=tuple(valid[c].as_agency() for c in wanted if c in valid),
        rule_id=found["rule_id"],
    )


async def category_policy(conn: asyncpg.Connection, category: str) -> CategoryPolicy | None:
    """The category's answer period, publication and activity as routing's table holds them (None: unknown)."""
    found = await _category(conn, category)
    if found is None:
        return None
    return CategoryPolicy(found.code, found.working_days, found.public_allowed, found.active)


async def agency(conn: asyncpg.Connection, code: str, at: datetime) -> Agency | None:
    """The agency, if it exists and is valid at `at`."""
    found = await _agency(conn, code)
    return found.as_agency() if found is not None and found.valid_at(at) else None


async def replacement(conn: asyncpg.Connection, code: str) -> str | None:
    """Who took over `code`'s work: following replaced_by from `code`, the first successor valid now (the end
    of the chain when none is); None when `code` names no successor."""
    chain = [agency_from(r) for r in await repo.replacement_chain(conn, code, MAX_REPLACEMENT_CHAIN)]
    now = utc_now()
    return next((a.code for a in chain if a.valid_at(now)), chain[-1].code if chain else None)


# --- the admin's changes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    field: str | None
    code: str


class InvalidChange(Exception):
    """A change the reference data refuses (a 422); `problems` name the fields, never the values."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(", ".join(f"{p.field}:{p.code}" for p in problems))
        self.problems = tuple(problems)


class NotFound(Exception):
    """No such agency, rule or category (a 404)."""


class Conflict(Exception):
    """The change clashes with what exists (a 409); `code` says how."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


# Fields an admin may change; anything else is part of a row's identity (retire it and create another).
AGENCY_EDITABLE = frozenset({"name", "email", "valid_to", "replaced_by"})
RULE_EDITABLE = frozenset({"valid_to"})
CATEGORY_EDITABLE = frozenset({"deadline_class", "public_allowed", "active"})


async def list_agencies(conn: asyncpg.Connection, kind: AgencyKind | None = None) -> list[AgencyEntry]:
    return [a for a in await _agencies(conn) if kind is None or a.kind is kind]


async def create_agency(
    conn: asyncpg.Connection, new: AgencyEntry, actor: str, create_queue: Callable[[str], Awaitable[object]]
) -> AgencyEntry:
    """A new agency, with its queue topic created first: an agency never exists without the queue its work is
    published to (a failed insert leaves an unused topic, which is harmless)."""
    problems = [Problem(f, c) for f, c in _agency_field_problems(new)]
    if new.kind is AgencyKind.WARD_COMMITTEE and new.ward_code not in reference.wards(tenant_province()):
        problems.append(Problem("ward_code", "unknown_ward"))
    if new.replaced_by is not None:
        problems += await _successor_problems(conn, new.code, new.replaced_by)
    if problems:
        raise InvalidChange(problems)
    if await _agency(conn, new.code) is not None:
        raise Conflict("agency_exists")
    await create_queue(new.code)
    async with conn.transaction():
        try:
            await _write(conn, Change("agency", new.code, None, new), actor)
        except asyncpg.UniqueViolationError as exc:
            raise Conflict("agency_exists") from exc
        created = await _agency(conn, new.code)
    assert created is not None  # noqa: S101 - written in this transaction
    log.info("agency_created", code=new.code, kind=new.kind.value)
    return created


async def update_agency(
    conn: asyncpg.Connection, code: str, changes: Mapping[str, Any], actor: str, coordinator: str
) -> AgencyEntry:
    """Rename, readdress, close (valid_to; None reopens) or name the successor of an agency."""
    async with conn.transaction():
        before = await _agency(conn, code, for_update=True)
        if before is None:
            raise NotFound
        after = dataclasses.replace(before, **{k: v for k, v in changes.items() if k in AGENCY_EDITABLE})
        problems = [Problem(f, c) for f, c in _agency_field_problems(after) if f in changes]
        if "replaced_by" in changes and after.replaced_by is not None:
            problems += await _successor_problems(conn, code, after.replaced_by)
        if problems:
            raise InvalidChange(problems)
        if code == coordinator and after.valid_to is not None:
            raise Conflict("coordinator_required")  # unmatched reports would have nowhere to go
        if after != before:
            await _write(conn, Change("agency", code, before, after), actor)
        updated = await _agency(conn, code)
    assert updated is not None  # noqa: S101 - locked in this transaction
    return updated


def _agency_field_problems(entry: AgencyEntry) -> list[tuple[str, str]]:
    problems = []
    if len(entry.code) > MAX_AGENCY_CODE or not AGENCY_CODE.fullmatch(entry.code):
        problems.append(("code", "invalid_code"))
    if not entry.name.strip():
        problems.append(("name", "blank"))
    if (entry.kind is AgencyKind.WARD_COMMITTEE) != (entry.ward_code is not None):
        problems.append(("ward_code", "ward_committee_only" if entry.ward_code else "missing"))
    if entry.valid_from is not None and entry.valid_to is not None and entry.valid_from >= entry.valid_to:
        problems.append(("valid_to", "before_valid_from"))
    return problems


async def _successor_problems(conn: asyncpg.Connection, code: str, successor: str) -> list[Problem]:
    if successor == code:
        return [Problem("replaced_by", "replacement_cycle")]
    if await _agency(conn, successor) is None:
        return [Problem("replaced_by", "unknown_agency")]
    chain = await repo.replacement_chain(conn, successor, MAX_REPLACEMENT_CHAIN)
    if code in {r["code"] for r in chain}:
        return [Problem("replaced_by", "replacement_cycle")]
    return []


async def list_rules(
    conn: asyncpg.Connection, category: str | None = None, agency_code: str | None = None, at: datetime | None = None
) -> list[RuleEntry]:
    """Rules, optionally of one category, led by or involving one agency, or valid at one instant."""
    return [
        r
        for r in await _rules(conn, category)
        if (agency_code is None or agency_code == r.agency or agency_code in r.co_agencies)
        and (at is None or r.valid_at(at))
    ]


async def create_rule(conn: asyncpg.Connection, new: RuleEntry, actor: str) -> RuleEntry:
    """A new rule. Without valid_from it applies from now: an admin's rule for the same match as an older one
    supersedes it from then on, and the older one stays in the history."""
    now = utc_now()
    if new.valid_from is None:
        new = dataclasses.replace(new, valid_from=now)
    async with conn.transaction():
        problems = await _rule_problems(conn, new, now)
        if problems:
            raise InvalidChange(problems)
        if any(r.key == new.key for r in await _rules(conn, new.category)):
            raise Conflict("rule_exists")
        try:
            written = await _write(conn, Change("rule", str(new.key), None, new), actor)
        except asyncpg.UniqueViolationError as exc:
            raise Conflict("rule_exists") from exc
        assert isinstance(written, RuleEntry)  # noqa: S101 - a rule was written
        assert written.id is not None  # noqa: S101 - inserted above
        created = await _rule(conn, written.id)
    assert created is not None  # noqa: S101 - inserted in this transaction
    log.info("rule_created", rule_id=created.id, category=created.category)
    return created


async def _rule_problems(conn: asyncpg.Connection, rule: RuleEntry, now: datetime) -> list[Problem]:
    problems = []
    if await _category(conn, rule.category) is None:
        problems.append(Problem("category", "unknown_category"))
    lead = await _agency(conn, rule.agency)
    if lead is None:
        problems.append(Problem("agency", "unknown_agency"))
    elif lead.valid_to is not None and lead.valid_to <= now:
        problems.append(Problem("agency", "agency_closed"))  # such a rule could never match
    co = rule.co_agencies
    if any([await _agency(conn, c) is None for c in co]):
        problems.append(Problem("co_agencies", "unknown_agency"))
    elif rule.agency in co or len(set(co)) != len(co):
        problems.append(Problem("co_agencies", "repeated_agency"))
    if rule.ward_code is not None and rule.area_code is not None:
        problems.append(Problem("area_code", "ward_and_area"))
    elif rule.ward_code is not None and rule.ward_code not in reference.wards(tenant_province()):
        problems.append(Problem("ward_code", "unknown_ward"))
    elif rule.area_code is not None and rule.area_code not in {a.code for a in reference.areas()}:
        problems.append(Problem("area_code", "unknown_area"))
    if rule.valid_from is not None and rule.valid_to is not None and rule.valid_from >= rule.valid_to:
        problems.append(Problem("valid_to", "before_valid_from"))
    return problems


async def update_rule(conn: asyncpg.Connection, rule_id: int, changes: Mapping[str, Any], actor: str) -> RuleEntry:
    """Retire a rule (valid_to) or reopen it (valid_to None). Its match and agencies are its identity: to change
    them, retire it and create another, so assignments that cite it keep meaning what they meant."""
    async with conn.transaction():
        before = await _rule(conn, rule_id, for_update=True)
        if before is None:
            raise NotFound
        after = dataclasses.replace(before, **{k: v for k, v in changes.items() if k in RULE_EDITABLE})
        if after.valid_from is not None and after.valid_to is not None and after.valid_from >= after.valid_to:
            raise InvalidChange([Problem("valid_to", "before_valid_from")])
        if after != before:
            await _write(conn, Change("rule", str(rule_id), before, after), actor)
        updated = await _rule(conn, rule_id)
    assert updated is not None  # noqa: S101 - locked in this transaction
    return updated


async def list_categories(conn: asyncpg.Connection) -> list[CategoryEntry]:
    return await _categories(conn)


async def update_category(conn: asyncpg.Connection, code: str, changes: Mapping[str, Any], actor: str) -> CategoryEntry:
    """Change a category's deadline class (its working days follow), publication or activity.

    Intake validates submissions against the repo's categories file, not this table: deactivating a category
    here stops routing from treating it as active, but intake keeps offering it until the file says so.
    """
    classes = reference.deadline_classes()
    if "deadline_class" in changes and changes["deadline_class"] not in classes:
        raise InvalidChange([Problem("deadline_class", "unknown_deadline_class")])
    async with conn.transaction():
        before = await _category(conn, code, for_update=True)
        if before is None:
            raise NotFound
        after = dataclasses.replace(before, **{k: v for k, v in changes.items() if k in CATEGORY_EDITABLE})
        after = dataclasses.replace(after, working_days=classes.get(after.deadline_class, after.working_days))
        if after != before:
            await _write(conn, Change("category", code, before, after), actor)
        updated = await _category(conn, code)
    assert updated is not None  # noqa: S101 - locked in this transaction
    return updated


async def category_tree(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """The active categories under their fields, in the file's order: what a citizen picks from."""
    tree: dict[str, dict[str, Any]] = {}
    for c in await _categories(conn):
        if c.active:
            branch = tree.setdefault(c.field_code, {"code": c.field_code, "name": c.field_name, "categories": []})
            branch["categories"].append(
                {"code": c.code, "name": c.name, "working_days": c.working_days, "public_allowed": c.public_allowed}
            )
    return list(tree.values())


# --- rows ----------------------------------------------------------------------------------------------------


def agency_from(row: Mapping[str, Any]) -> AgencyEntry:
    return AgencyEntry(
        code=row["code"],
        name=row["name"],
        kind=AgencyKind(row["kind"]),
        email=row["email"],
        ward_code=row["ward_code"],
        valid_from=row["valid_from"],
        valid_to=row["valid_to"],
        replaced_by=row["replaced_by"],
        source=Source(row["source"]),
        updated_at=row["updated_at"],
    )


def rule_from(row: Mapping[str, Any]) -> RuleEntry:
    return RuleEntry(
        category=row["category"],
        agency=row["agency_code"],
        ward_code=row["ward_code"],
        area_code=row["area_code"],
        urgent=row["urgent"],
        co_agencies=tuple(row["co_agencies"]),
        valid_from=row["valid_from"],
        valid_to=row["valid_to"],
        id=row["id"],
        source=Source(row["source"]),
        updated_at=row["updated_at"],
    )


def category_from(row: Mapping[str, Any]) -> CategoryEntry:
    return CategoryEntry(
        code=row["code"],
        field_code=row["field_code"],
        field_name=row["field_name"],
        name=row["name"],
        deadline_class=row["deadline_class"],
        working_days=row["working_days"],
        public_allowed=row["public_allowed"],
        active=row["active"],
        position=row["position"],
        source=Source(row["source"]),
        updated_at=row["updated_at"],
    )


async def _agencies(conn: asyncpg.Connection) -> list[AgencyEntry]:
    return [agency_from(r) for r in await repo.agencies(conn)]


async def _agency(conn: asyncpg.Connection, code: str, for_update: bool = False) -> AgencyEntry | None:
    row = await repo.agency(conn, code, for_update)
    return None if row is None else agency_from(row)


async def _rules(conn: asyncpg.Connection, category: str | None = None) -> list[RuleEntry]:
    return [rule_from(r) for r in await repo.rules(conn, category)]


async def _rule(conn: asyncpg.Connection, rule_id: int, for_update: bool = False) -> RuleEntry | None:
    row = await repo.rule(conn, rule_id, for_update)
    return None if row is None else rule_from(row)


async def _categories(conn: asyncpg.Connection) -> list[CategoryEntry]:
    return [category_from(r) for r in await repo.categories(conn)]


async def _category(conn: asyncpg.Connection, code: str, for_update: bool = False) -> CategoryEntry | None:
    row = await repo.category(conn, code, for_update)
    return None if row is None else category_from(row)


# --- JSON ------------------------------------------------------------------------------------------------------


def _moment(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def as_json(entry: Entry, bookkeeping: bool = True) -> dict[str, Any]:
    """A reference row for the admin API (`bookkeeping`: with id, source and updated_at) or the change log."""
    body: dict[str, Any]
    if isinstance(entry, AgencyEntry):
        body = {
            "code": entry.code,
            "name": entry.name,
            "kind": entry.kind.value,
            "email": entry.email,
            "ward_code": entry.ward_code,
            "valid_from": _moment(entry.valid_from),
            "valid_to": _moment(entry.valid_to),
            "replaced_by": entry.replaced_by,
        }
    elif isinstance(entry, RuleEntry):
        body = {
            "id": entry.id,
            "category": entry.category,
            "ward_code": entry.ward_code,
            "area_code": entry.area_code,
            "urgent": entry.urgent,
            "agency": entry.agency,
            "co_agencies": list(entry.co_agencies),
            "valid_from": _moment(entry.valid_from),
            "valid_to": _moment(entry.valid_to),
        }
    else:
        body = {
            "code": entry.code,
            "field_code": entry.field_code,
            "field_name": entry.field_name,
            "name": entry.name,
            "deadline_class": entry.deadline_class,
            "working_days": entry.working_days,
            "public_allowed": entry.public_allowed,
            "active": entry.active,
        }
    if bookkeeping:
        body |= {"source": entry.source.value, "updated_at": _moment(entry.updated_at)}
    return body


def _json(entry: Entry | None) -> dict[str, Any] | None:
    return None if entry is None else as_json(entry, bookkeeping=False)
