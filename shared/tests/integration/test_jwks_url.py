"""A JWKS fetched from a URL (as from an OpenID Connect provider's jwks_uri), served by a local HTTP server."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from paht_shared.auth import (
    AUTH_VERIFIER,
    AuthUnavailable,
    InvalidToken,
    Role,
    TokenVerifier,
    auth_middleware,
    generate_signing_key,
    mint_token,
    public_jwks,
    require_staff,
)
from paht_shared.web import new_app


@dataclass
class Provider:
    """The identity provider's JWKS endpoint: what it publishes and how often it was asked."""

    jwks: dict[str, Any]
    requests: int = 0
    failing: bool = False
    url: str = field(default="")


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    state = Provider(jwks={"keys": []})

    async def jwks(_request: web.Request) -> web.Response:
        state.requests += 1
        if state.failing:
            return web.Response(status=500)
        return web.json_response(state.jwks)

    app = web.Application()
    app.router.add_get("/realms/paht/protocol/openid-connect/certs", jwks)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    state.url = str(server.make_url("/realms/paht/protocol/openid-connect/certs"))
    yield state
    await server.close()


async def test_tokens_verify_against_a_jwks_url_fetched_once(provider: Provider) -> None:
    """The first token fetches the JWKS; later tokens use the cache."""
    key = generate_signing_key()
    provider.jwks = public_jwks(key)
    verifier = TokenVerifier(provider.url)
    assert provider.requests == 0  # nothing is fetched before a token needs it
    for subject in ("alice", "bob", "carol"):
        assert (await verifier.verify(mint_token(key, subject, Role.COORDINATOR))).subject == subject
    assert provider.requests == 1
    with pytest.raises(InvalidToken):
        await verifier.verify(mint_token(generate_signing_key(kid=json.loads(key)["kid"]), "m", Role.ADMIN))


async def test_rotated_key_is_fetched_on_an_unknown_kid_at_most_every_interval(provider: Provider) -> None:
    """A new kid makes the verifier ask again, but a flood of unknown kids does not flood the provider."""
    old, new = generate_signing_key(), generate_signing_key()
    provider.jwks = public_jwks(old)
    verifier = TokenVerifier(provider.url, refetch_seconds=0.5)
    await verifier.verify(mint_token(old, "alice", Role.ADMIN))
    provider.jwks = {"keys": public_jwks(new)["keys"] + public_jwks(old)["keys"]}
    with pytest.raises(InvalidToken, match="unknown_key"):  # within the interval: not asked again
        await verifier.verify(mint_token(new, "alice", Role.ADMIN))
    assert provider.requests == 1
    await asyncio.sleep(0.6)
    assert (await verifier.verify(mint_token(new, "alice", Role.ADMIN))).subject == "alice"
    assert provider.requests == 2
    strangers = [mint_token(generate_signing_key(), "m", Role.ADMIN) for _ in range(20)]
    for token in strangers:
        with pytest.raises(InvalidToken, match="unknown_key"):
            await verifier.verify(token)
    assert provider.requests == 2


async def test_provider_outage_keeps_cached_keys(provider: Provider) -> None:
    """Once keys are cached, a failing provider does not lock staff out."""
    key = generate_signing_key()
    provider.jwks = public_jwks(key)
    verifier = TokenVerifier(provider.url, refetch_seconds=0, max_age_seconds=0)
    await verifier.verify(mint_token(key, "alice", Role.ADMIN))
    provider.failing = True
    assert (await verifier.verify(mint_token(key, "bob", Role.ADMIN))).subject == "bob"
    assert provider.requests == 2  # it did try: the keys were past their max age


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_provider_without_cached_keys_is_a_503() -> None:
    """No keys could ever be loaded: the API answers 503 auth_unavailable with Retry-After, never 200."""
    verifier = TokenVerifier(f"http://127.0.0.1:{unused_port()}/certs", fetch_timeout_seconds=2)
    with pytest.raises(AuthUnavailable):
        await verifier.verify(mint_token(generate_signing_key(), "alice", Role.ADMIN))

    async def staff_only(request: web.Request) -> web.Response:
        return web.json_response({"subject": require_staff(request).subject})

    app = new_app(middlewares=[auth_middleware(verifier)])
    app[AUTH_VERIFIER] = verifier
    app.router.add_get("/staff", staff_only)
    async with TestClient(TestServer(app)) as client:
        token = mint_token(generate_signing_key(), "alice", Role.ADMIN)
        resp = await client.get("/staff", headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 503
        assert resp.headers["Retry-After"]
        assert (await resp.json())["errors"][0]["code"] == "auth_unavailable"
