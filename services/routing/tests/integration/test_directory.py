"""Routing's reference data against the real PostgreSQL (and Kafka for agency queues): the loader, the resolver
the assignment code calls, and the admin API."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from paht_shared.auth import Role, generate_signing_key, mint_token, public_jwks
from paht_shared.contracts import topics
from paht_shared.db import create_pool
from paht_shared.kafka import topic_partitions
from routing import directory
from routing.app import build_app
from routing.config import Settings
from routing.directory import RuleEntry, Source
from routing.directory_handlers import add_directory_routes

Client = TestClient[Any, Any]
SOC_TRANG = "31507"  # Phường Sóc Trăng
CU_LAO_DUNG_AREA = "945"  # the former Cù Lao Dung district


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def schema(service_schema: Callable[[str], Awaitable[str]]) -> str:
    return await service_schema("routing")


@pytest.fixture
async def pool(admin_dsn: str, schema: str) -> AsyncIterator[asyncpg.Pool]:
    """A routing schema with the repo's reference data loaded (no broker needed)."""
    pool = await create_pool(admin_dsn, schema)
    async with pool.acquire() as conn:
        await directory.load_reference(conn)
    yield pool
    await pool.close()


@pytest.fixture
async def conn(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    async with pool.acquire() as connection:
        yield connection


async def route(
    conn: asyncpg.Connection,
    category: str,
    ward: str | None = None,
    area: str | None = None,
    urgent: bool = False,
    at: datetime | None = None,
    excluding: frozenset[str] = frozenset(),
) -> tuple[str, list[str]] | None:
    """(lead, co-processing agencies) of resolve_route, or None."""
    found = await directory.resolve_route(conn, category, ward, area, urgent, at or now(), excluding)
    return None if found is None else (found.lead.code, [a.code for a in found.co_agencies])


# --- the loader ------------------------------------------------------------------------------------------------


async def test_the_loader_writes_the_103_ward_committees_and_is_idempotent(conn: asyncpg.Connection) -> None:
    """103 UBND-<ward> committees; a second load changes no row and logs no change."""
    assert await conn.fetchval("SELECT count(*) FROM agencies WHERE kind = 'ward_committee'") == 103
    row = await conn.fetchrow("SELECT name, ward_code FROM agencies WHERE code = 'UBND-31507'")
    assert dict(row) == {"name": "Ủy ban nhân dân phường Sóc Trăng", "ward_code": SOC_TRANG}
    tables = ("agencies", "routing_rules", "categories")
    before = {t: await conn.fetch(f"SELECT * FROM {t} ORDER BY 1") for t in tables}
    logged = await conn.fetchval("SELECT count(*) FROM reference_changes WHERE actor = 'load-reference'")
    assert logged == sum(len(rows) for rows in before.values())  # the first load logged each row it wrote
    plan = await directory.load_reference(conn)
    assert (plan.changes, plan.kept) == ((), ())
    assert {t: await conn.fetch(f"SELECT * FROM {t} ORDER BY 1") for t in tables} == before
    assert await conn.fetchval("SELECT count(*) FROM reference_changes") == logged


async def test_a_reload_keeps_admin_changes_and_retires_dropped_rules(conn: asyncpg.Connection) -> None:
    """An address an admin set survives the next load; a rule the file no longer lists ends, an admin's stays."""
    await directory.update_agency(conn, "SXD", {"email": "sxd@cantho.gov.vn"}, "admin.test", "VP-UBND")
    admin_rule = await directory.create_rule(conn, RuleEntry("duong-sa", "CTDT", ward_code=SOC_TRANG), "admin.test")
    data = directory.reference_file()
    data["rules"] = [r for r in data["rules"] if (r["category"], r.get("area_code")) != ("khai-thac-cat", "945")]
    plan = await directory.load_reference(conn, data)
    assert [(c.kind, c.key) for c in plan.kept] == [("agency", "SXD")]  # reported, not overwritten
    assert await conn.fetchval("SELECT email FROM agencies WHERE code = 'SXD'") == "sxd@cantho.gov.vn"
    assert await route(conn, "khai-thac-cat", area=CU_LAO_DUNG_AREA) == ("SNNMT", [])  # the category-wide rule
    retired = await conn.fetchval("SELECT valid_to FROM routing_rules WHERE area_code = $1", CU_LAO_DUNG_AREA)
    assert retired <= now()
    assert await route(conn, "duong-sa", SOC_TRANG) == ("CTDT", [])
    assert admin_rule.source is Source.ADMIN


async def test_the_loader_creates_every_agencys_queue(admin_dsn: str, schema: str, kafka_bootstrap: str) -> None:
    """load_reference_data creates the inbox and its dead-letter topic of each agency, ward committees too."""
    settings = Settings(database_url=admin_dsn, db_schema=schema, kafka_bootstrap=kafka_bootstrap)
    await directory.load_reference_data(settings)
    for code in ("SXD", "PCCC", "UBND-31507", "UBND-31783"):
        assert await topic_partitions(kafka_bootstrap, topics.agency_inbox(code))
        assert await topic_partitions(kafka_bootstrap, topics.dlq(topics.agency_inbox(code)))


# --- the resolver ----------------------------------------------------------------------------------------------


async def test_a_category_wide_rule_routes_any_place(conn: asyncpg.Connection) -> None:
    """giao-thong has no local rule: Sở Xây dựng, wherever the report is, with the id of the rule."""
    assert await route(conn, "giao-thong", SOC_TRANG) == ("SXD", [])
    assert await route(conn, "giao-thong") == ("SXD", [])
    found = await directory.resolve_route(conn, "giao-thong", None, None, False, now())
    assert found is not None
    assert await conn.fetchval("SELECT agency_code FROM routing_rules WHERE id = $1", found.rule_id) == "SXD"


async def test_a_ward_rule_beats_the_category_wide_one(conn: asyncpg.Connection) -> None:
    """Rubbish in Phường Sóc Trăng goes to its People's Committee with the urban works company; without a
    ward, to the company."""
    assert await route(conn, "rac-thai", SOC_TRANG) == ("UBND-31507", ["CTDT"])
    assert await route(conn, "rac-thai") == ("CTDT", [])
    found = await directory.resolve_route(conn, "rac-thai", SOC_TRANG, None, False, now())
    assert found is not None
    assert found.lead.name == "Ủy ban nhân dân phường Sóc Trăng"


async def test_a_named_area_rule_beats_the_category_wide_one(conn: asyncpg.Connection) -> None:
    """Sand mining in the former Cù Lao Dung district brings the police in; elsewhere the department alone."""
    assert await route(conn, "khai-thac-cat", area=CU_LAO_DUNG_AREA) == ("SNNMT", ["CA"])
    assert await route(conn, "khai-thac-cat", area="941") == ("SNNMT", [])


async def test_a_ward_rule_beats_a_named_area_rule(conn: asyncpg.Connection) -> None:
    """With both a ward rule and an area rule matching, the ward's wins."""
    await directory.create_rule(conn, RuleEntry("khai-thac-cat", "CA", ward_code="31633"), "admin.test")
    assert await route(conn, "khai-thac-cat", "31633", CU_LAO_DUNG_AREA) == ("CA", [])


async def test_an_urgent_rule_applies_to_urgent_reports_only(conn: asyncpg.Connection) -> None:
    """An urgent disaster report goes to rescue with the department helping; a non-urgent one to the department.
    An urgent rule beats even a ward's rule."""
    assert await route(conn, "thien-tai", urgent=True) == ("PCCC", ["SNNMT"])
    assert await route(conn, "thien-tai", urgent=False) == ("SNNMT", [])
    assert await route(conn, "thoat-nuoc-ngap", SOC_TRANG, urgent=True) == ("PCCC", ["SNNMT"])
    await directory.create_rule(conn, RuleEntry("rac-thai", "PCCC", urgent=True), "admin.test")
    assert await route(conn, "rac-thai", SOC_TRANG, urgent=True) == ("PCCC", [])
    assert await route(conn, "rac-thai", SOC_TRANG, urgent=False) == ("UBND-31507", ["CTDT"])


async def test_a_newer_rule_for_the_same_match_supersedes_the_older(conn: asyncpg.Connection) -> None:
    """An admin's rule for the same category and place takes over from its valid_from; the file's rule stays
    in the history and still answers for earlier instants."""
    start = now() + timedelta(hours=1)
    await directory.create_rule(conn, RuleEntry("duong-sa", "CTDT", valid_from=start), "admin.test")
    assert await route(conn, "duong-sa", at=start - timedelta(seconds=1)) == ("SXD", [])
    assert await route(conn, "duong-sa", at=start) == ("CTDT", [])


async def test_no_match_is_none(conn: asyncpg.Connection) -> None:
    """khac (triage on purpose) and an unknown category: None, so the caller sends them to the coordinator."""
    assert await route(conn, "khac", SOC_TRANG) is None
    assert await route(conn, "khong-co", SOC_TRANG) is None


async def test_excluding_an_agency_gives_the_next_match(conn: asyncpg.Connection) -> None:
    """The ward committee returned the report: the category-wide rule's agency; both returned it: None.
    An excluded agency is not a co-processor either."""
    assert await route(conn, "rac-thai", SOC_TRANG, excluding=frozenset({"UBND-31507"})) == ("CTDT", [])
    assert await route(conn, "rac-thai", SOC_TRANG, excluding=frozenset({"UBND-31507", "CTDT"})) is None
    assert await route(conn, "thien-tai", urgent=True, excluding=frozenset({"SNNMT"})) == ("PCCC", [])
    assert await route(conn, "thien-tai", urgent=True, excluding=frozenset({"PCCC"})) == ("SNNMT", [])


async def test_expired_rules_and_agencies_are_not_chosen_after_their_valid_to(conn: asyncpg.Connection) -> None:
    """Before 1 March 2025 traffic went to the old Sở Giao thông vận tải; from then on to Sở Xây dựng. An agency
    closed or a rule retired through the admin API stops being chosen at its valid_to."""
    feb_2025 = datetime(2025, 2, 28, 16, 59, tzinfo=UTC)  # 23:59 in Vietnam, the last minute of the old department
    assert await route(conn, "giao-thong", at=feb_2025) == ("SGTVT-ST", [])
    assert await route(conn, "giao-thong", at=feb_2025 + timedelta(minutes=1)) == ("SXD", [])
    closing = now() + timedelta(hours=1)
    await directory.update_agency(conn, "CTDT", {"valid_to": closing}, "admin.test", "VP-UBND")
    assert await route(conn, "rac-thai", at=closing - timedelta(seconds=1)) == ("CTDT", [])
    assert await route(conn, "rac-thai", at=closing) is None
    assert await route(conn, "rac-thai", SOC_TRANG, at=closing) == ("UBND-31507", [])  # a closed co-agency drops
    rules = await directory.list_rules(conn, "khai-thac-cat", "CA", now())
    rule = next(r for r in rules if r.area_code == CU_LAO_DUNG_AREA)
    assert rule.id is not None
    await directory.update_rule(conn, rule.id, {"valid_to": closing}, "admin.test")
    assert await route(conn, "khai-thac-cat", area=rule.area_code, at=closing) == ("SNNMT", [])


async def test_an_agency_is_valid_at_an_instant_and_names_its_successor(conn: asyncpg.Connection) -> None:
    """agency() answers only while the agency is valid; replacement() follows the merger chain to an agency
    valid now."""
    assert await directory.agency(conn, "SGTVT-ST", now()) is None
    old = await directory.agency(conn, "SGTVT-ST", datetime(2024, 6, 1, tzinfo=UTC))
    assert old is not None
    assert old.name == "Sở Giao thông vận tải tỉnh Sóc Trăng (cũ)"
    assert await directory.replacement(conn, "SGTVT-ST") == "SXD"
    assert await directory.replacement(conn, "SXD") is None
    assert await directory.agency(conn, "NOBODY", now()) is None
    # A later merger: Sở Xây dựng closes into a new department; the old transport department's work follows.
    new = directory.AgencyEntry("SXD-MOI", "Sở Xây dựng (mới)", directory.AgencyKind.DEPARTMENT)
    await directory.create_agency(conn, new, "admin.test", _no_queue)
    await directory.update_agency(
        conn, "SXD", {"valid_to": now() - timedelta(seconds=1), "replaced_by": "SXD-MOI"}, "admin.test", "VP-UBND"
    )
    assert await directory.replacement(conn, "SGTVT-ST") == "SXD-MOI"


async def test_category_policy_comes_from_the_table(conn: asyncpg.Connection) -> None:
    """Working days of the class, publication, activity; None for an unknown category."""
    assert await directory.category_policy(conn, "thien-tai") == directory.CategoryPolicy("thien-tai", 5, True, True)
    assert await directory.category_policy(conn, "dat-dai-xay-dung") == directory.CategoryPolicy(
        "dat-dai-xay-dung", 15, True, True
    )
    assert await directory.category_policy(conn, "an-ninh-trat-tu") == directory.CategoryPolicy(
        "an-ninh-trat-tu", 5, False, True
    )
    assert await directory.category_policy(conn, "khong-co") is None


async def _no_queue(code: str) -> None:
    """Agencies created directly through the use case in these tests need no topic."""


# --- the admin API ---------------------------------------------------------------------------------------------


@pytest.fixture
def signing_key() -> str:
    return generate_signing_key()


@pytest.fixture
def settings(admin_dsn: str, schema: str, kafka_bootstrap: str, signing_key: str, pool: asyncpg.Pool) -> Settings:
    """Settings of the loaded schema (`pool` loaded it), verifying tokens signed with `signing_key`."""
    return Settings(
        database_url=admin_dsn,
        db_schema=schema,
        kafka_bootstrap=kafka_bootstrap,
        kafka_partitions=1,
        auth_jwks=json.dumps(public_jwks(signing_key)),
    )


def directory_app(settings: Settings) -> web.Application:
    """The routing app with the directory's routes (added here until build_app adds them itself)."""
    app = build_app(settings)
    if not any(r.canonical == "/api/v1/admin/agencies" for r in app.router.resources()):
        add_directory_routes(app, settings)
    return app


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    async with TestClient(TestServer(directory_app(settings))) as test_client:
        yield test_client


@pytest.fixture
def admin(signing_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(signing_key, 'quan.tri', Role.ADMIN)}"}


async def errors(resp: Any) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in (await resp.json())["errors"]]


ADMIN_CALLS = [
    ("GET", "/api/v1/admin/agencies", None),
    ("POST", "/api/v1/admin/agencies", {"code": "X", "name": "X", "kind": "utility"}),
    ("PATCH", "/api/v1/admin/agencies/SXD", {"name": "Sở khác"}),
    ("GET", "/api/v1/admin/rules", None),
    ("POST", "/api/v1/admin/rules", {"category": "khac", "agency": "SXD"}),
    ("PATCH", "/api/v1/admin/rules/1", {"valid_to": "2030-01-01"}),
    ("GET", "/api/v1/admin/categories", None),
    ("PATCH", "/api/v1/admin/categories/khac", {"active": False}),
]


async def test_only_admins_reach_the_admin_api(client: Client, signing_key: str, pool: asyncpg.Pool) -> None:
    """Officers, coordinators and operators get 403, no token 401, on every admin endpoint; nothing changes."""
    tokens = [
        mint_token(signing_key, "can.bo", Role.OFFICER, agency="SXD"),
        mint_token(signing_key, "dieu.phoi", Role.COORDINATOR),
        mint_token(signing_key, "tong.dai", Role.OPERATOR),
    ]
    changes = await pool.fetchval("SELECT count(*) FROM reference_changes")
    for method, path, body in ADMIN_CALLS:
        resp = await client.request(method, path, json=body)
        assert resp.status == 401, (method, path)
        for token in tokens:
            resp = await client.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})
            assert resp.status == 403, (method, path)
            assert await errors(resp) == [(None, "forbidden")]
    assert await pool.fetchval("SELECT count(*) FROM reference_changes") == changes


async def test_admin_creates_an_agency_with_its_queue(
    client: Client, admin: dict[str, str], pool: asyncpg.Pool, kafka_bootstrap: str
) -> None:
    """201 with the agency, its Kafka queue exists, the change is logged with the admin as actor; 409 again."""
    code = f"TEST-{uuid.uuid4().hex[:8].upper()}"
    body = {"code": code.lower(), "name": "Công ty Môi trường đô thị", "kind": "utility", "email": "mt@paht.example"}
    resp = await client.post("/api/v1/admin/agencies", json=body, headers=admin)
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert (created["code"], created["kind"], created["source"], created["valid_to"]) == (
        code,
        "utility",
        "admin",
        None,
    )
    assert resp.headers["Location"] == f"/api/v1/admin/agencies/{code}"
    assert await topic_partitions(kafka_bootstrap, topics.agency_inbox(code))
    log = await pool.fetchrow("SELECT actor, kind, before, after FROM reference_changes ORDER BY id DESC LIMIT 1")
    assert (log["actor"], log["kind"], log["before"]) == ("quan.tri", "agency", None)
    assert json.loads(log["after"])["name"] == "Công ty Môi trường đô thị"
    again = await client.post("/api/v1/admin/agencies", json=body, headers=admin)
    assert again.status == 409
    assert await errors(again) == [(None, "agency_exists")]
    listed = await (await client.get("/api/v1/admin/agencies?kind=utility", headers=admin)).json()
    assert code in {a["code"] for a in listed}
    assert {a["kind"] for a in listed} == {"utility"}


async def test_bad_agency_input_is_422_without_echo(client: Client, admin: dict[str, str]) -> None:
    """Every problem at once, Vietnamese messages, and neither the values nor an unknown key sent back."""
    body = {
        "code": "<script>xss</script>",
        "name": "",
        "kind": "secret-police",
        "email": "not-an-email-ZZZ",
        "valid_to": "hôm qua ZZZ",
        "ten_la": "QQQ-unknown-key",
    }
    resp = await client.post("/api/v1/admin/agencies", json=body, headers=admin)
    assert resp.status == 422
    found = await errors(resp)
    assert set(found) == {
        ("name", "too_short"),
        ("kind", "invalid_choice"),
        ("email", "invalid_format"),
        (None, "unknown_field"),
    }
    text = await resp.text()
    assert not any(marker in text for marker in ("script", "ZZZ", "QQQ", "ten_la", "secret"))
    ward = {
        "code": "UBND-99999",
        "name": "UBND",
        "kind": "ward_committee",
        "ward_code": "99999",
        "valid_to": "2020-13-45",
    }
    resp = await client.post("/api/v1/admin/agencies", json=ward, headers=admin)
    assert set(await errors(resp)) == {("valid_to", "invalid_datetime")}
    ward["valid_to"] = "2040-01-01T00:00:00"
    assert set(await errors(await client.post("/api/v1/admin/agencies", json=ward, headers=admin))) == {
        ("valid_to", "naive_datetime")
    }
    del ward["valid_to"]
    assert set(await errors(await client.post("/api/v1/admin/agencies", json=ward, headers=admin))) == {
        ("ward_code", "unknown_ward")
    }
    resp = await client.post("/api/v1/admin/agencies", data="{", headers=admin | {"Content-Type": "application/json"})
    assert resp.status == 400


async def test_admin_patches_and_closes_an_agency(client: Client, admin: dict[str, str], pool: asyncpg.Pool) -> None:
    """Address change logged with before/after; closing takes effect for routing; the coordinator cannot close;
    unknown 404; a successor cycle 422."""
    resp = await client.patch("/api/v1/admin/agencies/sxd", json={"email": "sxd@cantho.gov.vn"}, headers=admin)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["email"] == "sxd@cantho.gov.vn"
    log = await pool.fetchrow("SELECT key, before, after FROM reference_changes ORDER BY id DESC LIMIT 1")
    assert log["key"] == "SXD"
    assert (json.loads(log["before"])["email"], json.loads(log["after"])["email"]) == (
        "sxd@paht.example",
        "sxd@cantho.gov.vn",
    )
    yesterday = (now() - timedelta(days=1)).isoformat()
    resp = await client.patch("/api/v1/admin/agencies/DIEN-LUC", json={"valid_to": yesterday}, headers=admin)
    assert resp.status == 200
    async with pool.acquire() as conn:
        assert await directory.agency(conn, "DIEN-LUC", now()) is None
        assert await route(conn, "mat-dien") is None
    resp = await client.patch("/api/v1/admin/agencies/VP-UBND", json={"valid_to": yesterday}, headers=admin)
    assert resp.status == 409
    assert await errors(resp) == [(None, "coordinator_required")]
    assert (await client.patch("/api/v1/admin/agencies/KHONG-CO", json={"name": "X"}, headers=admin)).status == 404
    resp = await client.patch("/api/v1/admin/agencies/SXD", json={"replaced_by": "SGTVT-ST"}, headers=admin)
    assert await errors(resp) == [("replaced_by", "replacement_cycle")]
    resp = await client.patch("/api/v1/admin/agencies/SXD", json={"name": None, "kind": "police"}, headers=admin)
    assert set(await errors(resp)) == {("name", "wrong_type"), (None, "unknown_field")}


async def test_admin_creates_and_retires_a_rule(client: Client, admin: dict[str, str], pool: asyncpg.Pool) -> None:
    """A new rule takes over from now on; retiring it (valid_to) brings the file's rule back; 409 for the same
    match and start, 422 for unknown names, 404 for an unknown rule."""
    body = {"category": "cay-xanh", "ward_code": SOC_TRANG, "agency": "ubnd-31507", "co_agencies": ["CTDT"]}
    resp = await client.post("/api/v1/admin/rules", json=body, headers=admin)
    assert resp.status == 201, await resp.text()
    rule = await resp.json()
    assert (rule["agency"], rule["co_agencies"], rule["source"]) == ("UBND-31507", ["CTDT"], "admin")
    async with pool.acquire() as conn:
        assert await route(conn, "cay-xanh", SOC_TRANG) == ("UBND-31507", ["CTDT"])
    again = await client.post("/api/v1/admin/rules", json=body | {"valid_from": rule["valid_from"]}, headers=admin)
    assert again.status == 409
    resp = await client.patch(f"/api/v1/admin/rules/{rule['id']}", json={"valid_to": now().isoformat()}, headers=admin)
    assert resp.status == 200, await resp.text()
    async with pool.acquire() as conn:
        assert await route(conn, "cay-xanh", SOC_TRANG) == ("CTDT", [])
    listed = await (await client.get("/api/v1/admin/rules?category=cay-xanh", headers=admin)).json()
    assert {r["id"] for r in listed} >= {rule["id"]}
    at = {"category": "cay-xanh", "at": rule["valid_from"]}
    current = await (await client.get("/api/v1/admin/rules", params=at, headers=admin)).json()
    assert rule["id"] in {r["id"] for r in current}  # valid then, before it was retired
    current = await (await client.get("/api/v1/admin/rules", params=at | {"at": "2025-01-01"}, headers=admin)).json()
    assert rule["id"] not in {r["id"] for r in current}
    bad = {"category": "khong-co", "agency": "NOBODY", "ward_code": SOC_TRANG, "area_code": "945", "co_agencies": ["X"]}
    resp = await client.post("/api/v1/admin/rules", json=bad, headers=admin)
    assert set(await errors(resp)) == {
        ("category", "unknown_category"),
        ("agency", "unknown_agency"),
        ("co_agencies", "unknown_agency"),
        ("area_code", "ward_and_area"),
    }
    closed = {"category": "giao-thong", "agency": "SGTVT-ST"}
    assert await errors(await client.post("/api/v1/admin/rules", json=closed, headers=admin)) == [
        ("agency", "agency_closed")
    ]
    for missing in ("999999", "abc"):
        resp = await client.patch(f"/api/v1/admin/rules/{missing}", json={"valid_to": None}, headers=admin)
        assert resp.status == 404
    count = await pool.fetchval("SELECT count(*) FROM reference_changes WHERE actor = 'quan.tri' AND kind = 'rule'")
    assert count == 2  # created, retired


async def test_admin_changes_a_categorys_policy(client: Client, admin: dict[str, str], pool: asyncpg.Pool) -> None:
    """The deadline class sets the working days; publication and activity change; the public tree follows."""
    resp = await client.patch(
        "/api/v1/admin/categories/tieng-on", json={"deadline_class": "long", "public_allowed": False}, headers=admin
    )
    assert resp.status == 200, await resp.text()
    async with pool.acquire() as conn:
        assert await directory.category_policy(conn, "tieng-on") == directory.CategoryPolicy(
            "tieng-on", 15, False, True
        )
    assert await errors(
        await client.patch("/api/v1/admin/categories/tieng-on", json={"deadline_class": "mai"}, headers=admin)
    ) == [("deadline_class", "unknown_deadline_class")]
    assert await errors(
        await client.patch("/api/v1/admin/categories/tieng-on", json={"active": "no"}, headers=admin)
    ) == [("active", "wrong_type")]
    assert (await client.patch("/api/v1/admin/categories/khong-co", json={}, headers=admin)).status == 404
    tree = await (await client.get("/api/v1/categories")).json()  # public: no token
    assert tree[0]["name"] == "Thủ tục hành chính và công vụ"
    environment = next(f for f in tree if f["code"] == "ve-sinh-moi-truong")
    assert [c["code"] for c in environment["categories"]] == [
        "moi-truong",
        "rac-thai",
        "o-nhiem",
        "xa-thai",
        "tieng-on",
    ]
    resp = await client.patch("/api/v1/admin/categories/tieng-on", json={"active": False}, headers=admin)
    assert (await resp.json())["active"] is False
    tree = await (await client.get("/api/v1/categories")).json()
    environment = next(f for f in tree if f["code"] == "ve-sinh-moi-truong")
    assert "tieng-on" not in [c["code"] for c in environment["categories"]]
    listed = await (await client.get("/api/v1/admin/categories", headers=admin)).json()
    assert next(c for c in listed if c["code"] == "tieng-on")["source"] == "admin"
    logged = await pool.fetchval("SELECT count(*) FROM reference_changes WHERE actor = 'quan.tri' AND key = 'tieng-on'")
    assert logged == 2
