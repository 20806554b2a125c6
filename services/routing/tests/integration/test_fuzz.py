"""Hypothesis over every routing route that takes a body or a query, with the tokens of every role, against
the real PostgreSQL: whatever a client sends, the answer is never a 5xx."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from paht_shared.auth import Role, generate_signing_key, mint_token, public_jwks
from paht_shared.consumer import handle_once
from paht_shared.contracts import ReportSubmittedV1, topics
from paht_shared.db import create_pool
from paht_shared.envelope import Envelope
from routing.app import build_app
from routing.config import Settings
from routing.consumers import ASSIGN, subscriptions
from routing.directory import load_reference_data

Client = TestClient[Any, Any]
REPORTS = [uuid.uuid4() for _ in range(3)]  # two for Sở Xây dựng (SXD), one in the coordinator's triage

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=60)
    | st.sampled_from(["SXD", "VP-UBND", "out_of_scope", "\x00", "a" * 3000, str(uuid.uuid4())])
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=15), inner, max_size=4)
)
# bodies shaped like the real ones, with any value in any field
field_names = st.sampled_from(
    ["reason", "question", "days", "text", "media_ids", "reason_code", "note", "agency_code", "co_agencies", "into",
     "approve", "username", "password", "display_name", "role", "agency", "disabled", "name", "email", "valid_to",
     "category", "ward_code", "area_code", "urgent", "deadline_class", "public_allowed", "active", "code", "kind"]
)  # fmt: skip
bodies = json_values | st.dictionaries(field_names, json_values, max_size=6)


@pytest.fixture
async def fuzz_client(
    admin_dsn: str, service_schema: Callable[[str], Awaitable[str]]
) -> AsyncIterator[tuple[Client, str]]:
    key = generate_signing_key()
    app_settings = Settings(
        database_url=admin_dsn,
        db_schema=await service_schema("routing"),
        auth_jwks=json.dumps(public_jwks(key)),
        auth_signing_key=key,
    )
    await load_reference_data(app_settings)
    pool = await create_pool(admin_dsn, app_settings.db_schema)
    try:
        (assign, _citizen) = subscriptions(app_settings)
        for n, category in enumerate(("giao-thong", "giao-thong", "khac")):
            report = ReportSubmittedV1(
                report_id=REPORTS[n], tracking_code=f"PA-FUZZ{n}", channel="web", category=category,
                title="Ổ gà trên đường", ward_code="31507", submitted_at=datetime.now(UTC), public=True,
                anonymous=False,
            )  # fmt: skip
            await handle_once(pool, ASSIGN, Envelope.of(report, "intake", "c"), topics.REPORT_SUBMITTED, assign.handle)
    finally:
        await pool.close()
    async with TestClient(TestServer(build_app(app_settings))) as client:
        yield client, key


async def test_no_body_or_query_gets_a_5xx(fuzz_client: tuple[Client, str]) -> None:
    """Every POST/PATCH route (with a random report id, a real agency code or a random one) and every GET with
    a random query, under an officer's, a coordinator's and an admin's token: 2xx, 4xx, never 5xx."""
    client, key = fuzz_client
    base = str(client.make_url("")).rstrip("/")
    tokens = [
        mint_token(key, "o", Role.OFFICER, agency="SXD"),
        mint_token(key, "c", Role.COORDINATOR),
        mint_token(key, str(uuid.uuid4()), Role.ADMIN),
    ]
    routes = sorted(
        {(r.method, r.resource.canonical) for r in client.app.router.routes() if r.resource is not None}
        - {("HEAD", "")}
    )
    writable = [(m, p) for m, p in routes if m in ("POST", "PATCH")]
    readable = [(m, p) for m, p in routes if m == "GET" and "{" not in p]
    assert len(writable) >= 15

    def fill(template: str, ident: str) -> str:
        for name in ("report_id", "id", "code", "account_id"):
            template = template.replace("{" + name + "}", ident)
        return template

    def call(method: str, path: str, body: bytes | None, token: str) -> int:
        request = urllib.request.Request(  # noqa: S310 - the test's own server on loopback
            base + path,
            data=body,
            method=method,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - loopback
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
    @given(
        route=st.sampled_from(writable),
        ident=st.sampled_from([*(str(r) for r in REPORTS), str(uuid.uuid4()), "SXD", "khac", "1", "x%00"]),
        body=bodies,
        token=st.sampled_from(tokens),
    )
    # one request that must succeed, so the run always reaches past the gates whatever the draw
    @example(route=("PATCH", "/api/v1/admin/categories/{code}"), ident="khac", body={"active": True}, token=tokens[2])
    def writes(route: tuple[str, str], ident: str, body: Any, token: str) -> None:
        method, template = route
        status = call(method, fill(template, ident), json.dumps(body).encode(), token)
        answered[status] = answered.get(status, 0) + 1
        assert status < 500, (method, template, body, status)

    @settings(max_examples=150, deadline=None, database=None)
    @given(
        route=st.sampled_from(readable),
        query=st.dictionaries(st.sampled_from(["status", "overdue", "page", "per_page", "agency", "category",
                                               "ward_code", "limit", "x"]), st.text(max_size=20), max_size=3),
        token=st.sampled_from(tokens),
    )  # fmt: skip
    def reads(route: tuple[str, str], query: dict[str, str], token: str) -> None:
        path = route[1] + "?" + urllib.parse.urlencode(query)
        status = call("GET", path, None, token)
        assert status < 500, (route, query, status)

    answered: dict[int, int] = {}
    await asyncio.to_thread(writes)
    await asyncio.to_thread(reads)
    # the generator reached past the gates: some writes were accepted or refused for their content
    assert answered.get(422, 0) > 0
    assert answered.get(200, 0) > 0, answered
