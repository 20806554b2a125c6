"""Staff bearer tokens: what the verifier accepts and everything it must refuse."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from paht_shared.auth import (
    Identity,
    InvalidToken,
    Role,
    TokenVerifier,
    generate_signing_key,
    mint_token,
    public_jwks,
    write_signing_key,
)


@pytest.fixture
def key() -> str:
    return generate_signing_key()


@pytest.fixture
def verifier(key: str) -> TokenVerifier:
    return TokenVerifier(json.dumps(public_jwks(key)))


def kid_of(private_jwk: str) -> str:
    return str(json.loads(private_jwk)["kid"])


def private_key(private_jwk: str) -> Ed25519PrivateKey:
    key = OKPAlgorithm.from_jwk(private_jwk)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def signed(private_jwk: str, **claims: Any) -> str:
    """A token signed with `private_jwk` carrying exactly `claims` (for tokens mint_token would not make)."""
    now = int(time.time())
    body = {"iss": "paht", "aud": "paht", "sub": "alice", "iat": now, "exp": now + 300, **claims}
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, private_key(private_jwk), algorithm="EdDSA", headers={"kid": kid_of(private_jwk)})


def hs256_by_hand(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """What an attacker builds (PyJWT itself refuses to use a public key as an HMAC secret)."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


async def refusal(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    return caught.value.reason


async def test_valid_token_gives_the_identity(key: str, verifier: TokenVerifier) -> None:
    """Subject, role, agency (upper-cased) and token id come from the token."""
    token = mint_token(key, "alice", Role.OFFICER, agency="sxd")
    identity = await verifier.verify(token)
    assert identity.subject == "alice"
    assert identity.role is Role.OFFICER
    assert identity.agency == "SXD"
    assert identity.token_id == jwt.decode(token, options={"verify_signature": False})["jti"]
    coordinator = await verifier.verify(mint_token(key, "bob", Role.COORDINATOR))
    assert (coordinator.role, coordinator.agency) == (Role.COORDINATOR, None)


async def test_expired_token_is_refused(key: str, verifier: TokenVerifier) -> None:
    """Expired beyond the small leeway: refused; within it: still accepted (clock skew between servers)."""
    assert await refusal(verifier, mint_token(key, "alice", Role.ADMIN, ttl_seconds=-120)) == "expired"
    assert (await verifier.verify(mint_token(key, "alice", Role.ADMIN, ttl_seconds=-5))).role is Role.ADMIN


async def test_token_signed_by_an_unknown_key_is_refused(key: str, verifier: TokenVerifier) -> None:
    """Another key (its own kid, or impersonating ours by reusing the kid) does not verify."""
    stranger = generate_signing_key()
    assert await refusal(verifier, mint_token(stranger, "mallory", Role.ADMIN)) == "unknown_key"
    impostor = generate_signing_key(kid=kid_of(key))
    assert await refusal(verifier, mint_token(impostor, "mallory", Role.ADMIN)) == "bad_signature"


async def test_alg_none_is_refused(key: str, verifier: TokenVerifier) -> None:
    """An unsigned token naming a known kid is refused, and no verifier can be configured to accept it."""
    now = int(time.time())
    claims = {"iss": "paht", "aud": "paht", "sub": "mallory", "iat": now, "exp": now + 300, "role": "admin"}
    unsigned = jwt.encode(claims, "", algorithm="none", headers={"kid": kid_of(key)})
    assert await refusal(verifier, unsigned) == "algorithm_not_allowed"
    with pytest.raises(ValueError, match="asymmetric"):
        TokenVerifier(json.dumps(public_jwks(key)), algorithms=["none"])


async def test_hs256_signed_with_the_public_key_is_refused(key: str, verifier: TokenVerifier) -> None:
    """The classic confusion attack: the published key used as an HMAC secret."""
    now = int(time.time())
    claims = {"iss": "paht", "aud": "paht", "sub": "mallory", "iat": now, "exp": now + 300, "role": "admin"}
    public = public_jwks(key)["keys"][0]
    for secret in (json.dumps(public).encode(), base64.urlsafe_b64decode(public["x"] + "=")):
        forged = hs256_by_hand({"alg": "HS256", "typ": "JWT", "kid": kid_of(key)}, claims, secret)
        assert await refusal(verifier, forged) == "algorithm_not_allowed"
    with pytest.raises(ValueError, match="asymmetric"):
        TokenVerifier(json.dumps(public_jwks(key)), algorithms=["EdDSA", "HS256"])


async def test_wrong_audience_or_issuer_is_refused(key: str, verifier: TokenVerifier) -> None:
    """A token for another system, or from another issuer, is not ours to accept."""
    other_audience = mint_token(key, "alice", Role.ADMIN, audience="other-system")
    assert await refusal(verifier, other_audience) == "wrong_issuer_or_audience"
    other_issuer = mint_token(key, "alice", Role.ADMIN, issuer="someone-else")
    assert await refusal(verifier, other_issuer) == "wrong_issuer_or_audience"
    # The same tokens pass a verifier configured for them: the refusals above are about iss/aud only.
    lenient = TokenVerifier(json.dumps(public_jwks(key)), issuer="someone-else")
    assert (await lenient.verify(other_issuer)).subject == "alice"


async def test_officer_without_agency_and_unknown_roles_are_refused(key: str, verifier: TokenVerifier) -> None:
    """An officer's scope is their agency: no agency, no token. Roles outside the list are refused."""
    with pytest.raises(ValueError, match="agency"):
        mint_token(key, "alice", Role.OFFICER)
    assert await refusal(verifier, signed(key, role="officer")) == "officer_without_agency"
    assert await refusal(verifier, signed(key, role="officer", agency="")) == "invalid_agency"
    assert await refusal(verifier, signed(key, role="superuser")) == "unknown_role"
    assert await refusal(verifier, signed(key, role=["admin"])) == "unknown_role"
    assert (await verifier.verify(signed(key, role="officer", agency="SXD"))).agency == "SXD"


async def test_required_claims_and_kid(key: str, verifier: TokenVerifier) -> None:
    """No exp, no subject or no kid: refused; junk is refused without a crash."""
    assert await refusal(verifier, signed(key, role="admin", exp=None)) == "MissingRequiredClaimError"
    assert await refusal(verifier, signed(key, role="admin", sub=None)) == "MissingRequiredClaimError"
    no_kid = jwt.encode(
        {"iss": "paht", "aud": "paht", "sub": "a", "iat": 1, "exp": int(time.time()) + 60, "role": "admin"},
        private_key(key),
        algorithm="EdDSA",
    )
    assert await refusal(verifier, no_kid) == "kid_missing"
    assert await refusal(verifier, "not.a.token") == "malformed"
    assert await refusal(verifier, "x" * 10_000) == "malformed"


async def test_a_jwks_holding_a_private_key_is_not_trusted(key: str) -> None:
    """A signing key pasted where the public JWKS belongs is left out, so nothing verifies against it."""
    other = generate_signing_key()
    verifier = TokenVerifier(json.dumps({"keys": [json.loads(key), *public_jwks(other)["keys"]]}))
    assert await refusal(verifier, mint_token(key, "alice", Role.ADMIN)) == "unknown_key"
    assert (await verifier.verify(mint_token(other, "bob", Role.ADMIN))).subject == "bob"
    with pytest.raises(ValueError, match="no key"):
        TokenVerifier(json.dumps({"keys": [json.loads(key)]}))  # nothing usable left: refuse to start
    with pytest.raises(ValueError, match="JWKS"):
        TokenVerifier(key)  # a bare JWK is not a JWKS


async def test_jwks_file_is_reread_when_a_new_kid_appears(key: str, tmp_path: Path) -> None:
    """Key rotation by replacing the file: a token with the new kid verifies without a restart."""
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(public_jwks(key)))
    verifier = TokenVerifier(str(jwks_file), refetch_seconds=0)
    rotated = generate_signing_key()
    assert await refusal(verifier, mint_token(rotated, "alice", Role.ADMIN)) == "unknown_key"
    both = {"keys": public_jwks(rotated)["keys"] + public_jwks(key)["keys"]}
    jwks_file.write_text(json.dumps(both))
    assert (await verifier.verify(mint_token(rotated, "alice", Role.ADMIN))).subject == "alice"
    assert (await verifier.verify(mint_token(key, "bob", Role.ADMIN))).subject == "bob"


def test_agency_scope() -> None:
    """Officers see their own agency only; coordinators and admins see all; operators need the agency."""
    officer = Identity("alice", Role.OFFICER, "SXD", None)
    assert officer.sees_agency("sxd")
    assert not officer.sees_agency("SYT")
    assert Identity("bob", Role.COORDINATOR, None, None).sees_agency("SYT")
    assert Identity("carol", Role.ADMIN, None, None).sees_agency("SYT")
    assert not Identity("dan", Role.OPERATOR, None, None).sees_agency("SYT")


def test_public_jwks_and_signing_key_file(tmp_path: Path) -> None:
    """The private key file is 0600 and never overwritten; its JWKS sibling holds the public part only."""
    path = tmp_path / "signing.json"
    jwks_path = write_signing_key(path, kid="2026-01")
    assert jwks_path == tmp_path / "signing.jwks.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    private = json.loads(path.read_text())
    assert private["kid"] == "2026-01"
    assert isinstance(OKPAlgorithm.from_jwk(private), Ed25519PrivateKey)
    jwks = json.loads(jwks_path.read_text())
    assert jwks == public_jwks(path.read_text())
    assert [set(k) for k in jwks["keys"]] == [{"kty", "crv", "x", "kid", "alg", "use"}]
    with pytest.raises(FileExistsError):
        write_signing_key(path)
    assert json.loads(path.read_text()) == private


def test_cli_makes_a_key_and_mints_a_token_it_verifies(tmp_path: Path) -> None:
    """`new-signing-key` then `mint-token`: the printed token carries the requested claims and verifies."""
    key_file = tmp_path / "dev-signing.json"
    run = [sys.executable, "-m", "paht_shared"]
    subprocess.run([*run, "new-signing-key", "--out", str(key_file)], check=True, capture_output=True)
    minted = subprocess.run(
        [*run, "mint-token", "--key-file", str(key_file), "--role", "officer", "--agency", "SXD", "--sub", "alice"],
        check=True,
        capture_output=True,
        text=True,
    )
    token = minted.stdout.strip()
    jwks = json.loads((tmp_path / "dev-signing.jwks.json").read_text())
    claims = jwt.decode(token, jwt.PyJWK(jwks["keys"][0]), algorithms=["EdDSA"], audience="paht", issuer="paht")
    assert (claims["sub"], claims["role"], claims["agency"]) == ("alice", "officer", "SXD")
    assert 890 <= claims["exp"] - claims["iat"] <= 900
    refused = subprocess.run(
        [*run, "mint-token", "--key-file", str(key_file), "--role", "officer", "--sub", "alice"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0
    assert "agency" in refused.stderr
