"""Staff accounts over HTTP against the real PostgreSQL: login, lockout, the admin API, OpenID Connect, audit."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from paht_shared import audit
from paht_shared.auth import Identity, Role, TokenVerifier, generate_signing_key, mint_token, public_jwks
from routing.account_handlers import add_account_routes
from routing.accounts import PASSWORD_ENV, create_staff_command
from routing.app import build_app
from routing.config import Settings
from routing.directory import load_reference_data

Client = TestClient[Any, Any]
PASSWORD = "cầu-đường-2026-an-toàn"  # noqa: S105 - the test accounts' password
OIDC_ISSUER = "https://sso.cantho.gov.vn/realms/paht"
OIDC_AUDIENCE = "paht-portal"


@pytest.fixture
def signing_key() -> str:
    return generate_signing_key()


@pytest.fixture
async def settings(admin_dsn: str, service_schema: Callable[[str], Awaitable[str]], signing_key: str) -> Settings:
    """A routing schema with the reference agencies; routing both issues and verifies staff tokens."""
    settings = Settings(
        database_url=admin_dsn,
        db_schema=await service_schema("routing"),
        auth_jwks=json.dumps(public_jwks(signing_key)),
        auth_signing_key=signing_key,
    )
    await load_reference_data(settings)
    return settings


def account_app(settings: Settings) -> web.Application:
    app = build_app(settings)
    if not any(r.resource is not None and r.resource.canonical == "/api/v1/auth/login" for r in app.router.routes()):
        add_account_routes(app, settings)  # until routing's app.py wires the account routes itself
    return app


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    async with TestClient(TestServer(account_app(settings))) as test_client:
        yield test_client


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": settings.db_schema})
    yield conn
    await conn.close()


@pytest.fixture
def admin_token(signing_key: str) -> str:
    return mint_token(signing_key, "admin.bootstrap", Role.ADMIN)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def error_codes(resp: Any) -> list[str]:
    return [str(e["code"]) for e in (await resp.json())["errors"]]


async def create(client: Client, admin_token: str, **fields: Any) -> dict[str, Any]:
    body = {"display_name": "Cán bộ thử nghiệm", "password": PASSWORD, **fields}
    resp = await client.post("/api/v1/admin/staff", json=body, headers=bearer(admin_token))
    assert resp.status == 201, await resp.text()
    created: dict[str, Any] = await resp.json()
    return created


async def login(client: Client, username: str, password: str = PASSWORD) -> Any:
    return await client.post("/api/v1/auth/login", json={"username": username, "password": password})


async def verified(settings: Settings, token: str) -> Identity:
    return await TokenVerifier(settings.auth_jwks).verify(token)


async def test_login_issues_a_token_every_service_verifies(
    client: Client, settings: Settings, admin_token: str
) -> None:
    """Right password: a Bearer token, uncached, that the shared verifier reads as this officer of SXD."""
    officer = await create(client, admin_token, username="officer.sxd", role="officer", agency_code="sxd")
    assert officer["agency_code"] == "SXD"
    resp = await login(client, "  Officer.SXD ")
    assert resp.status == 200, await resp.text()
    assert resp.headers["Cache-Control"] == "no-store"
    body = await resp.json()
    assert body["token_type"] == "Bearer"  # noqa: S105 - the OAuth token type
    assert body["expires_in"] == settings.token_ttl_seconds
    assert (body["role"], body["agency"]) == ("officer", "SXD")
    identity = await verified(settings, body["access_token"])
    assert (identity.subject, identity.role, identity.agency) == (officer["id"], Role.OFFICER, "SXD")
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert 0 < claims["exp"] - time.time() <= settings.token_ttl_seconds


async def test_wrong_password_and_unknown_user_get_the_same_401(client: Client, admin_token: str) -> None:
    """A wrong password and a name nobody has are indistinguishable: same status, code and message."""
    await create(client, admin_token, username="dieu.phoi", role="coordinator")
    wrong = await login(client, "dieu.phoi", PASSWORD + "x")
    unknown = await login(client, "khong.ai.ca", PASSWORD)
    assert wrong.status == unknown.status == 401
    assert await wrong.json() == await unknown.json()
    assert (await wrong.json())["errors"][0]["code"] == "invalid_credentials"


async def test_five_failures_lock_the_account_until_the_lock_ends(
    client: Client, admin_token: str, db: asyncpg.Connection
) -> None:
    """After 5 wrong passwords even the right one gets 429 with Retry-After; once the lock is over it works
    again and the count starts afresh."""
    account = await create(client, admin_token, username="tong.dai", role="operator")
    for _ in range(5):
        assert (await login(client, "tong.dai", "mat-khau-sai-roi-nhe")).status == 401
    locked = await login(client, "tong.dai")
    assert locked.status == 429
    assert await error_codes(locked) == ["account_locked"]
    assert 0 < int(locked.headers["Retry-After"]) <= 15 * 60
    row = await db.fetchrow(
        "SELECT failed_logins, locked_until > now() AS locked FROM staff_accounts WHERE id = $1",
        uuid.UUID(account["id"]),
    )
    assert (row["failed_logins"], row["locked"]) == (5, True)

    await db.execute(
        "UPDATE staff_accounts SET locked_until = now() - interval '1 second' WHERE id = $1", uuid.UUID(account["id"])
    )
    assert (await login(client, "tong.dai")).status == 200
    row = await db.fetchrow(
        "SELECT failed_logins, locked_until FROM staff_accounts WHERE id = $1", uuid.UUID(account["id"])
    )
    assert (row["failed_logins"], row["locked_until"]) == (0, None)


async def test_parallel_guesses_cannot_overshoot_the_limit(
    client: Client, admin_token: str, db: asyncpg.Connection
) -> None:
    """Twelve wrong passwords at once: at most five are checked (401), the rest are refused as locked (429)."""
    await create(client, admin_token, username="song.song", role="operator")
    answers = await asyncio.gather(*(login(client, "song.song", f"doan-mo-lan-thu-{i}") for i in range(12)))
    statuses = sorted(a.status for a in answers)
    assert statuses == [401] * 5 + [429] * 7
    assert await db.fetchval("SELECT failed_logins FROM staff_accounts WHERE username = 'song.song'") == 5


async def test_a_disabled_account_cannot_log_in(client: Client, admin_token: str) -> None:
    """Disabled by an admin: the right password gets the same 401 as a wrong one; enabled again, it works."""
    account = await create(client, admin_token, username="nghi.viec", role="officer", agency_code="SYT")
    path = f"/api/v1/admin/staff/{account['id']}"
    resp = await client.patch(path, json={"disabled": True}, headers=bearer(admin_token))
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["disabled"] is True
    refused = await login(client, "nghi.viec")
    assert refused.status == 401
    assert await error_codes(refused) == ["invalid_credentials"]
    await client.patch(path, json={"disabled": False}, headers=bearer(admin_token))
    assert (await login(client, "nghi.viec")).status == 200


async def test_a_valid_token_is_renewed_while_the_account_stands_as_it_was(
    client: Client, settings: Settings, admin_token: str
) -> None:
    """Refresh gives a new token for the same officer; once the account is disabled, or moved to another
    agency, the old token is refused a renewal (401) and they must log in again."""
    account = await create(client, admin_token, username="ca.truc", role="officer", agency_code="SXD")
    token = (await (await login(client, "ca.truc")).json())["access_token"]

    renewed = await client.post("/api/v1/auth/refresh", headers=bearer(token))

    assert renewed.status == 200, await renewed.text()
    assert renewed.headers["Cache-Control"] == "no-store"
    fresh = (await renewed.json())["access_token"]
    assert fresh != token
    identity = await verified(settings, fresh)
    assert (identity.subject, identity.role, identity.agency) == (account["id"], Role.OFFICER, "SXD")
    path = f"/api/v1/admin/staff/{account['id']}"
    await client.patch(path, json={"agency_code": "SYT"}, headers=bearer(admin_token))
    moved = await client.post("/api/v1/auth/refresh", headers=bearer(fresh))
    assert (moved.status, await error_codes(moved)) == (401, ["invalid_credentials"])
    token = (await (await login(client, "ca.truc")).json())["access_token"]
    await client.patch(path, json={"disabled": True}, headers=bearer(admin_token))
    disabled = await client.post("/api/v1/auth/refresh", headers=bearer(token))
    assert disabled.status == 401
    assert (await client.post("/api/v1/auth/refresh")).status == 401  # no token at all


async def test_admin_creates_an_officer_without_exposing_the_hash(
    client: Client, admin_token: str, db: asyncpg.Connection
) -> None:
    """201 with the account, `has_password`, and no hash anywhere in it; the list shows none either; the
    database holds an argon2id hash, not the password."""
    account = await create(client, admin_token, username="Can.Bo.SXD", role="officer", agency_code="SXD")
    assert account["username"] == "can.bo.sxd"
    assert account["has_password"] is True
    assert "password_hash" not in account
    assert "password" not in account
    listed = await client.get("/api/v1/admin/staff", headers=bearer(admin_token))
    text = await listed.text()
    assert listed.status == 200
    assert "argon2" not in text
    assert PASSWORD not in text
    assert [a["username"] for a in await listed.json()] == ["can.bo.sxd"]
    stored = await db.fetchval("SELECT password_hash FROM staff_accounts WHERE id = $1", uuid.UUID(account["id"]))
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


async def test_duplicate_username_is_409(client: Client, admin_token: str) -> None:
    """Usernames are unique whatever their case."""
    await create(client, admin_token, username="trung.ten", role="coordinator")
    resp = await client.post(
        "/api/v1/admin/staff",
        json={"username": "TRUNG.TEN", "display_name": "Người khác", "role": "operator", "password": PASSWORD},
        headers=bearer(admin_token),
    )
    assert resp.status == 409
    assert await error_codes(resp) == ["username_taken"]


async def test_invalid_accounts_are_422_without_echoing_input(client: Client, admin_token: str) -> None:
    """An officer needs an existing agency; weak passwords are refused; errors name the field, never the value."""
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"username": "khong.co.so", "role": "officer"}, "agency_code", "agency_required"),
        ({"username": "so.ma", "role": "officer", "agency_code": "KHONG-CO"}, "agency_code", "unknown_agency"),
        ({"username": "ngan.qua", "role": "operator", "password": "ngan-qua"}, "password", "weak_password"),
        ({"username": "toan.so", "role": "operator", "password": "094090001234"}, "password", "weak_password"),
        ({"username": "trung.mat.khau", "role": "admin", "password": "Trung.Mat.Khau"}, "password", "weak_password"),
        ({"username": "x", "role": "admin"}, "username", "invalid_username"),
        ({"username": "vai.tro", "role": "superuser"}, "role", "invalid_role"),
    ]
    for fields, field, code in cases:
        body = {"display_name": "Cán bộ thử nghiệm", "password": PASSWORD, **fields}
        resp = await client.post("/api/v1/admin/staff", json=body, headers=bearer(admin_token))
        assert resp.status == 422, (fields, await resp.text())
        errors = (await resp.json())["errors"]
        assert {"field": field, "code": code} in [{"field": e["field"], "code": e["code"]} for e in errors]
        assert all(e["message"] for e in errors)
        assert str(body["password"]) not in await resp.text()
    listed = await client.get("/api/v1/admin/staff", headers=bearer(admin_token))
    assert await listed.json() == []


async def test_admin_endpoints_refuse_other_roles(client: Client, signing_key: str, admin_token: str) -> None:
    """Officers, coordinators and operators get 403 on every admin endpoint; no token is 401."""
    account = await create(client, admin_token, username="bi.sua", role="operator")
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "/api/v1/admin/staff", None),
        ("POST", "/api/v1/admin/staff", {"username": "moi", "display_name": "Mới", "role": "admin"}),
        ("PATCH", f"/api/v1/admin/staff/{account['id']}", {"role": "admin"}),
    ]
    tokens = [
        mint_token(signing_key, "officer.sxd", Role.OFFICER, agency="SXD"),
        mint_token(signing_key, "dieu.phoi", Role.COORDINATOR),
        mint_token(signing_key, "tong.dai", Role.OPERATOR),
    ]
    for method, path, body in calls:
        for token in tokens:
            resp = await client.request(method, path, json=body, headers=bearer(token))
            assert resp.status == 403, (method, path)
            assert await error_codes(resp) == ["forbidden"]
        resp = await client.request(method, path, json=body)
        assert resp.status == 401
    listed = await client.get("/api/v1/admin/staff", headers=bearer(admin_token))
    assert [(a["username"], a["role"]) for a in await listed.json()] == [("bi.sua", "operator")]


async def test_rescoping_an_officer_changes_the_next_token(
    client: Client, settings: Settings, admin_token: str
) -> None:
    """PATCH moves an officer from SXD to SYT: the next login's token carries SYT; an officer cannot lose
    their agency, and an unknown account is 404."""
    account = await create(client, admin_token, username="luan.chuyen", role="officer", agency_code="SXD")
    path = f"/api/v1/admin/staff/{account['id']}"
    resp = await client.patch(path, json={"agency_code": "syt"}, headers=bearer(admin_token))
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["agency_code"] == "SYT"
    token = (await (await login(client, "luan.chuyen")).json())["access_token"]
    assert (await verified(settings, token)).agency == "SYT"

    resp = await client.patch(path, json={"agency_code": None}, headers=bearer(admin_token))
    assert resp.status == 422
    assert await error_codes(resp) == ["agency_required"]
    resp = await client.patch(path, json={"role": "coordinator", "agency_code": None}, headers=bearer(admin_token))
    assert resp.status == 200
    token = (await (await login(client, "luan.chuyen")).json())["access_token"]
    identity = await verified(settings, token)
    assert (identity.role, identity.agency) == (Role.COORDINATOR, None)

    resp = await client.patch(
        f"/api/v1/admin/staff/{uuid.uuid4()}", json={"role": "admin"}, headers=bearer(admin_token)
    )
    assert resp.status == 404
    resp = await client.patch(path, json={"username": "doi.ten"}, headers=bearer(admin_token))
    assert resp.status == 422
    assert await error_codes(resp) == ["unknown_field"]


async def test_setting_a_password_replaces_the_old_one_and_lifts_a_lock(
    client: Client, admin_token: str, db: asyncpg.Connection
) -> None:
    """An admin's new password works at once (the old one no longer does), even on a locked account."""
    account = await create(client, admin_token, username="quen.mat.khau", role="operator")
    await db.execute(
        "UPDATE staff_accounts SET failed_logins = 5, locked_until = now() + interval '10 minutes' WHERE id = $1",
        uuid.UUID(account["id"]),
    )
    new_password = "mat-khau-moi-cua-tong-dai"  # noqa: S105 - a test account's password
    resp = await client.patch(
        f"/api/v1/admin/staff/{account['id']}", json={"password": new_password}, headers=bearer(admin_token)
    )
    assert resp.status == 200, await resp.text()
    assert new_password not in await resp.text()
    assert (await login(client, "quen.mat.khau")).status == 401
    assert (await login(client, "quen.mat.khau", new_password)).status == 200


async def test_an_outdated_hash_is_upgraded_at_login(client: Client, admin_token: str, db: asyncpg.Connection) -> None:
    """A hash made with weaker argon2 parameters is replaced by one with today's parameters after a login."""
    account = await create(client, admin_token, username="tham.so.cu", role="operator")
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    await db.execute("UPDATE staff_accounts SET password_hash = $2 WHERE id = $1", uuid.UUID(account["id"]), weak)
    assert (await login(client, "tham.so.cu")).status == 200
    stored = await db.fetchval("SELECT password_hash FROM staff_accounts WHERE id = $1", uuid.UUID(account["id"]))
    assert stored != weak
    assert not PasswordHasher().check_needs_rehash(stored)
    assert (await login(client, "tham.so.cu")).status == 200


async def test_admins_cannot_disable_or_demote_themselves(client: Client, signing_key: str, admin_token: str) -> None:
    """An admin's own account: disabling or demoting it is 409 (nobody could undo it over HTTP)."""
    admin = await create(client, admin_token, username="quan.tri", role="admin")
    own_token = mint_token(signing_key, admin["id"], Role.ADMIN)
    for change in ({"disabled": True}, {"role": "coordinator"}):
        resp = await client.patch(f"/api/v1/admin/staff/{admin['id']}", json=change, headers=bearer(own_token))
        assert resp.status == 409
        assert await error_codes(resp) == ["own_account"]


async def test_account_changes_are_audited(client: Client, admin_token: str, db: asyncpg.Connection) -> None:
    """Create, re-scope, disable and password set each leave an audit row, by the admin, about the account's id
    (no name, no password), and the chain verifies."""
    account = await create(client, admin_token, username="kiem.toan", role="officer", agency_code="SXD")
    path = f"/api/v1/admin/staff/{account['id']}"
    for change in ({"agency_code": "SYT"}, {"disabled": True}, {"password": "mot-mat-khau-moi-dai"}):
        assert (await client.patch(path, json=change, headers=bearer(admin_token))).status == 200
    rows = await db.fetch(
        "SELECT actor, actor_role, action, subject, reason FROM audit_log WHERE subject = $1 ORDER BY id",
        f"staff:{account['id']}",
    )
    assert [r["action"] for r in rows] == [
        "staff.created",
        "staff.password_set",
        "staff.rescoped",
        "staff.disabled",
        "staff.password_set",
    ]
    assert {(r["actor"], r["actor_role"]) for r in rows} == {("admin.bootstrap", "admin")}
    assert rows[2]["reason"] == "role=officer agency=SXD -> role=officer agency=SYT"
    everything = json.dumps([dict(r) for r in rows], ensure_ascii=False)
    assert "kiem.toan" not in everything
    assert "Cán bộ" not in everything
    assert (await audit.verify(db)).ok
    # A refused change leaves no trace: the account and its audit rows are written together or not at all.
    assert (await client.patch(path, json={"agency_code": "KHONG-CO"}, headers=bearer(admin_token))).status == 422
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE subject = $1", f"staff:{account['id']}") == 5


async def test_without_a_signing_key_login_is_503(settings: Settings) -> None:
    """No signing key configured: routing issues no tokens (503 auth_not_configured)."""
    unconfigured = settings.model_copy(update={"auth_signing_key": None})
    async with TestClient(TestServer(account_app(unconfigured))) as client:
        resp = await login(client, "ai.do")
        assert resp.status == 503
        assert await error_codes(resp) == ["auth_not_configured"]


async def test_console_creates_the_first_admin(
    settings: Settings, client: Client, monkeypatch: pytest.MonkeyPatch, db: asyncpg.Connection
) -> None:
    """`python -m routing create-staff` takes the password from the environment only, and the admin it
    creates can log in; its creation is audited as the console's."""
    argv = ["--username", "quan.tri.dau.tien", "--role", "admin", "--display-name", "Quản trị"]
    with pytest.raises(SystemExit):
        await asyncio.to_thread(create_staff_command, settings, argv, {})
    await asyncio.to_thread(create_staff_command, settings, argv, {PASSWORD_ENV: PASSWORD})
    resp = await login(client, "quan.tri.dau.tien")
    assert resp.status == 200
    assert (await resp.json())["role"] == "admin"
    actor = await db.fetchval("SELECT actor FROM audit_log WHERE action = 'staff.created'")
    assert actor.startswith("console:")
    weak = ["--username", "quan.tri.hai", "--role", "admin", "--display-name", "Hai"]
    with pytest.raises(SystemExit, match="weak_password"):
        await asyncio.to_thread(create_staff_command, settings, weak, {PASSWORD_ENV: "123456789012"})


# --- OpenID Connect -------------------------------------------------------------------------------------


class Provider:
    """A province's identity provider in miniature: an RSA key whose public half a local server publishes."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex
        public = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        self.jwks = {"keys": [{**public, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def id_token(self, issuer: str = OIDC_ISSUER, audience: str = OIDC_AUDIENCE, **claims: Any) -> str:
        now = int(time.time())
        payload = {"iss": issuer, "aud": audience, "sub": uuid.uuid4().hex, "iat": now, "exp": now + 300, **claims}
        return jwt.encode(payload, self.key, algorithm="RS256", headers={"kid": self.kid})


@pytest.fixture
async def provider() -> AsyncIterator[tuple[Provider, str]]:
    """The provider and its JWKS URL (a real HTTP server on 127.0.0.1)."""
    idp = Provider()

    async def jwks(_request: web.Request) -> web.Response:
        return web.json_response(idp.jwks)

    app = web.Application()
    app.router.add_get("/protocol/openid-connect/certs", jwks)
    server = TestServer(app)
    await server.start_server()
    try:
        yield idp, str(server.make_url("/protocol/openid-connect/certs"))
    finally:
        await server.close()


async def test_oidc_id_token_is_exchanged_for_our_token(
    settings: Settings, admin_token: str, provider: tuple[Provider, str]
) -> None:
    """A valid ID token whose email is linked to an account gets our token for that account; a wrong issuer,
    an unverified email or an unlinked address get 401."""
    idp, jwks_url = provider
    configured = settings.model_copy(
        update={"oidc_issuer": OIDC_ISSUER, "oidc_jwks_url": jwks_url, "oidc_audience": OIDC_AUDIENCE}
    )
    async with TestClient(TestServer(account_app(configured))) as client:
        account = await create(
            client,
            admin_token,
            username="sso.officer",
            role="officer",
            agency_code="SYT",
            oidc_subject="can.bo@syt.cantho.gov.vn",
        )
        resp = await client.post("/api/v1/auth/oidc", json={"id_token": idp.id_token(email="can.bo@syt.cantho.gov.vn")})
        assert resp.status == 200, await resp.text()
        identity = await verified(settings, (await resp.json())["access_token"])
        assert (identity.subject, identity.role, identity.agency) == (account["id"], Role.OFFICER, "SYT")

        refused = [
            (
                idp.id_token(issuer="https://evil.example/realms/paht", email="can.bo@syt.cantho.gov.vn"),
                "invalid_id_token",
            ),
            (idp.id_token(audience="another-app", email="can.bo@syt.cantho.gov.vn"), "invalid_id_token"),
            (idp.id_token(email="can.bo@syt.cantho.gov.vn", email_verified=False), "invalid_id_token"),
            (Provider().id_token(email="can.bo@syt.cantho.gov.vn"), "invalid_id_token"),
            (idp.id_token(email="nguoi.la@cantho.gov.vn"), "account_not_linked"),
        ]
        for id_token, code in refused:
            resp = await client.post("/api/v1/auth/oidc", json={"id_token": id_token})
            assert resp.status == 401, code
            assert await error_codes(resp) == [code]


async def test_oidc_not_configured_is_404(client: Client, provider: tuple[Provider, str]) -> None:
    """Without the provider's settings the exchange does not exist."""
    idp, _ = provider
    resp = await client.post("/api/v1/auth/oidc", json={"id_token": idp.id_token(email="a@b.vn")})
    assert resp.status == 404
    assert await error_codes(resp) == ["oidc_not_configured"]
