"""Staff identity: bearer tokens (JWT signed with Ed25519) verified against a JWKS, roles and agency scope.

Our own login (later, in routing) and a province's OpenID Connect provider both publish a JWKS; a service
is pointed at it by configuration (inline JSON, a file, or the provider's ``jwks_uri``) and verifies
every ``Authorization: Bearer`` token with PyJWT. Handlers ask ``require_staff`` for the caller: the
role and the agency come from the token, never from the client's request.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import jwt
import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from paht_shared.settings import ServiceSettings
from paht_shared.web import error_body, json_error

log = structlog.get_logger("paht.auth")

SIGNING_ALGORITHM = "EdDSA"
# Signature algorithms a JWKS may be trusted with. Never "none", never HMAC: with HS256 a public key
# published in the JWKS would become a shared secret anyone can sign with.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"EdDSA", "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
)
MAX_TOKEN_CHARS = 8192  # far above any real token; refuses junk before it is parsed
MAX_JWKS_BYTES = 1024 * 1024
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]


class Role(StrEnum):
    OFFICER = "officer"  # works for one agency and sees only its cases
    COORDINATOR = "coordinator"  # triage across agencies
    OPERATOR = "operator"  # hotline 1022
    ADMIN = "admin"


# Roles whose view is not limited to one agency.
EVERY_AGENCY = frozenset({Role.COORDINATOR, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is calling, as the verified token says."""

    subject: str
    role: Role
    agency: str | None  # upper-case agency code; always set for officers
    token_id: str | None  # the token's jti, for audit records

    def sees_agency(self, agency: str) -> bool:
        return self.role in EVERY_AGENCY or (self.agency is not None and self.agency == agency.upper())


class InvalidToken(Exception):
    """The token cannot be trusted; `reason` is for logs (never the token itself)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AuthUnavailable(Exception):
    """The JWKS could not be obtained and no keys are cached: verification is impossible right now."""


# --- keys and tokens ----------------------------------------------------------------------------------


def _thumbprint(public_jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint: a stable key id derived from the public key."""
    canonical = json.dumps({k: public_jwk[k] for k in ("crv", "kty", "x")}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def generate_signing_key(kid: str | None = None) -> str:
    """A new Ed25519 private key as a JWK JSON string (kid defaults to its RFC 7638 thumbprint)."""
    private = OKPAlgorithm.to_jwk(Ed25519PrivateKey.generate(), as_dict=True)
    kid = kid or _thumbprint(private)
    return json.dumps({**private, "kid": kid, "alg": SIGNING_ALGORITHM, "use": "sig"})


def _load_signing_key(private_jwk: str) -> tuple[Ed25519PrivateKey, str]:
    key = OKPAlgorithm.from_jwk(private_jwk)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    kid = json.loads(private_jwk).get("kid")
    if not isinstance(kid, str) or not kid:
        raise ValueError("the signing key has no kid")
    return key, kid


def public_jwks(private_jwk: str) -> dict[str, Any]:
    """The JWKS that verifies tokens signed with `private_jwk`: the public part only."""
    key, kid = _load_signing_key(private_jwk)
    public = OKPAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {"keys": [{**public, "kid": kid, "alg": SIGNING_ALGORITHM, "use": "sig"}]}


def write_signing_key(path: Path, kid: str | None = None) -> Path:
    """A new signing key in `path` (mode 0600, never overwritten) and its public JWKS in the sibling
    `<stem>.jwks.json`, the file services are pointed at. Returns the JWKS path."""
    jwks_path = path.with_name(f"{path.stem}.jwks.json")
    if jwks_path == path:
        raise ValueError(f"{path} would be overwritten by its own JWKS: choose another name")
    private = generate_signing_key(kid)
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: replacing a key by accident would invalidate every token signed with it.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(private + "\n")
    jwks_path.write_text(json.dumps(public_jwks(private), indent=2) + "\n")
    return jwks_path


def mint_token(
    private_jwk: str,
    subject: str,
    role: Role,
    agency: str | None = None,
    ttl_seconds: int = 900,
    issuer: str = "paht",
    audience: str = "paht",
) -> str:
    """A signed staff token (EdDSA) with exp/iat/nbf/jti and the `role` and `agency` claims."""
    role = Role(role)
    if role is Role.OFFICER and not agency:
        raise ValueError("an officer token needs an agency")
    if not subject:
        raise ValueError("a token needs a subject")
    key, kid = _load_signing_key(private_jwk)
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
        "role": role.value,
    }
    if agency:
        claims["agency"] = agency.upper()
    return jwt.encode(claims, key, algorithm=SIGNING_ALGORITHM, headers={"kid": kid})


# --- verification -------------------------------------------------------------------------------------


def parse_jwks(text: str | bytes, algorithms: Iterable[str]) -> dict[str, jwt.PyJWK]:
    """Usable verification keys by kid. Keys without a kid, for encryption, of an algorithm we do not
    accept, or carrying a private part (a signing key configured by mistake) are left out."""
    document = json.loads(text)
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError('a JWKS is a JSON object {"keys": [...]}')
    allowed = set(algorithms)
    keys: dict[str, jwt.PyJWK] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict):
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid or entry.get("use", "sig") != "sig":
            continue
        if "d" in entry:
            log.warning("jwks_private_key_ignored", kid=kid)
            continue
        try:
            key = jwt.PyJWK(entry)
        except jwt.PyJWTError:
            log.warning("jwks_key_unusable", kid=kid)
            continue
        if key.algorithm_name in allowed:
            keys[kid] = key
    return keys


class TokenVerifier:
    """Verifies bearer tokens against a JWKS given as inline JSON, a file path, or an http(s) URL.

    Keys from a file or URL are cached; a token with an unknown kid triggers a reload at most every
    `refetch_seconds` (key rotation at the provider), and a URL's keys are refreshed after
    `max_age_seconds` (a withdrawn key stops being trusted).
    """

    def __init__(
        self,
        jwks: str,
        *,
        issuer: str = "paht",
        audience: str = "paht",
        algorithms: Sequence[str] = (SIGNING_ALGORITHM,),
        leeway_seconds: float = 30.0,
        refetch_seconds: float = 60.0,
        max_age_seconds: float = 3600.0,
        fetch_timeout_seconds: float = 5.0,
    ) -> None:
        refused = set(algorithms) - ASYMMETRIC_ALGORITHMS
        if refused or not algorithms:
            raise ValueError(f"token algorithms must be asymmetric signatures, not {sorted(refused)}")
        self._issuer = issuer
        self._audience = audience
        self._algorithms = list(dict.fromkeys(algorithms))
        self._leeway = leeway_seconds
        self._refetch_seconds = refetch_seconds
        self._max_age_seconds = max_age_seconds
        self._fetch_timeout = fetch_timeout_seconds
        self._lock = asyncio.Lock()
        self._keys: dict[str, jwt.PyJWK] = {}
        self._loaded_at: float | None = None  # monotonic time of the last successful load
        self._attempted_at = float("-inf")  # monotonic time of the last load attempt
        self._load: Callable[[], Awaitable[str | bytes]] | None = None
        source = jwks.strip()
        if not source:
            raise ValueError("no JWKS configured")
        if source.startswith("{"):
            self._keys = parse_jwks(source, self._algorithms)
            self._loaded_at = time.monotonic()
            self.source_kind = "inline"
        elif source.startswith(("https://", "http://")):
            self._url = source
            self._load = self._fetch
            self.source_kind = "url"
            host = urlsplit(source).hostname or ""
            if source.startswith("http://") and host not in {"127.0.0.1", "localhost", "::1"}:
                log.warning("jwks_over_plain_http", host=host)
        else:
            path = Path(source)
            # Read now: a missing or broken file is a configuration error that should stop start-up.
            self._keys = parse_jwks(path.read_bytes(), self._algorithms)
            self._loaded_at = time.monotonic()
            self._load = lambda: asyncio.to_thread(path.read_bytes)
            self.source_kind = "file"
        if self._loaded_at is not None and not self._keys:
            # Every token would be refused: say so at start-up rather than with a 401 per request.
            raise ValueError(f"the JWKS holds no key with a kid usable for {self._algorithms}")

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> TokenVerifier | None:
        """The service's verifier, or None when no JWKS is configured (staff endpoints then fail closed)."""
        if not settings.auth_jwks.strip():
            return None
        return cls(
            settings.auth_jwks,
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            algorithms=[a.strip() for a in settings.auth_algorithms.split(",") if a.strip()],
        )

    async def _fetch(self) -> bytes:
        timeout = aiohttp.ClientTimeout(total=self._fetch_timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(self._url) as response:
            response.raise_for_status()
            body = await response.content.read(MAX_JWKS_BYTES + 1)
        if len(body) > MAX_JWKS_BYTES:
            raise ValueError("JWKS too large")
        return body

    async def _reload(self, *, unknown_kid: bool) -> None:
        if self._load is None:
            return
        async with self._lock:
            now = time.monotonic()
            # Without keys, retry soon; with keys, a token naming an unknown kid may not hammer the source.
            interval = self._refetch_seconds if self._keys else min(self._refetch_seconds, 5.0)
            stale = self._loaded_at is None or now - self._loaded_at >= self._max_age_seconds
            if now - self._attempted_at < interval or not (unknown_kid or stale):
                return
            self._attempted_at = now
            try:
                keys = parse_jwks(await self._load(), self._algorithms)
            except (OSError, ValueError, aiohttp.ClientError, TimeoutError) as exc:
                log.warning("jwks_load_failed", source=self.source_kind, error=type(exc).__name__)
                return
            self._keys = keys
            self._loaded_at = time.monotonic()
            log.info("jwks_loaded", source=self.source_kind, keys=len(keys))

    async def _key(self, kid: str) -> jwt.PyJWK | None:
        if self._load is not None and (
            self._loaded_at is None or time.monotonic() - self._loaded_at >= self._max_age_seconds
        ):
            await self._reload(unknown_kid=False)
        if self._loaded_at is None:
            raise AuthUnavailable("the JWKS could not be loaded")
        if kid not in self._keys:
            await self._reload(unknown_kid=True)
        return self._keys.get(kid)

    async def verify(self, token: str) -> Identity:
        """The caller's identity, or InvalidToken (AuthUnavailable when no keys can be had)."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken("malformed")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed") from exc
        if header.get("alg") not in self._algorithms:
            raise InvalidToken("algorithm_not_allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("kid_missing")
        key = await self._key(kid)
        if key is None:
            raise InvalidToken("unknown_key")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("expired") from exc
        except jwt.InvalidSignatureError as exc:
            raise InvalidToken("bad_signature") from exc
        except (jwt.InvalidAudienceError, jwt.InvalidIssuerError) as exc:
            raise InvalidToken("wrong_issuer_or_audience") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(type(exc).__name__) from exc
        return identity_from_claims(claims)


def identity_from_claims(claims: dict[str, Any]) -> Identity:
    role_claim = claims.get("role")
    try:
        role = Role(role_claim) if isinstance(role_claim, str) else None
    except ValueError:
        role = None
    if role is None:
        raise InvalidToken("unknown_role")
    agency = claims.get("agency")
    if agency is not None and (not isinstance(agency, str) or not agency.strip()):
        raise InvalidToken("invalid_agency")
    if role is Role.OFFICER and agency is None:
        raise InvalidToken("officer_without_agency")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("invalid_subject")
    token_id = claims.get("jti")
    return Identity(
        subject=subject,
        role=role,
        agency=agency.strip().upper() if agency else None,
        token_id=token_id if isinstance(token_id, str) else None,
    )


# --- HTTP ---------------------------------------------------------------------------------------------

AUTH_VERIFIER: web.AppKey[TokenVerifier] = web.AppKey("auth_verifier", TokenVerifier)
IDENTITY: web.RequestKey[Identity] = web.RequestKey("identity", Identity)


def auth_middleware(verifier: TokenVerifier | None) -> Middleware:
    """Verifies `Authorization: Bearer` and stores the Identity on the request.

    No header: the request simply has no identity (public endpoints work as before). A bad token is
    401 everywhere. Without a verifier a token cannot be checked, so it is ignored and staff-only
    endpoints refuse the request (see `require_staff`).
    """

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or verifier is None:
            return await handler(request)
        try:
            request[IDENTITY] = await verifier.verify(token.strip())
        except InvalidToken as exc:
            log.info("token_refused", reason=exc.reason)
            response = json_error(
                401, "invalid_token", "Mã xác thực không hợp lệ hoặc đã hết hạn, vui lòng đăng nhập lại."
            )
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return response
        except AuthUnavailable:
            response = json_error(
                503, "auth_unavailable", "Chưa kiểm tra được mã xác thực lúc này, vui lòng thử lại sau."
            )
            response.headers["Retry-After"] = "5"
            return response
        return await handler(request)

    return middleware


def identity_of(request: web.Request) -> Identity | None:
    return request.get(IDENTITY)


def _refusal(
    error: type[web.HTTPException], code: str, message: str, headers: dict[str, str] | None = None
) -> web.HTTPException:
    return error(text=json.dumps(error_body(code, message)), content_type="application/json", headers=headers)


def require_staff(request: web.Request, *roles: Role, agency: str | None = None) -> Identity:
    """The caller, if they hold one of `roles` (any staff role when none given) and, when `agency` is
    given, may see that agency's data (coordinators and admins see every agency; others only the
    agency in their token). Raises 401 `token_required`, 403 `forbidden`, or 503 `auth_not_configured`.
    """
    if AUTH_VERIFIER not in request.config_dict:
        # Fail closed: without a JWKS nobody can be recognised as staff.
        log.warning("staff_endpoint_without_auth")
        raise _refusal(
            web.HTTPServiceUnavailable,
            "auth_not_configured",
            "Hệ thống chưa được cấu hình xác thực cán bộ.",
        )
    identity = identity_of(request)
    if identity is None:
        raise _refusal(
            web.HTTPUnauthorized,
            "token_required",
            "Cần đăng nhập bằng tài khoản cán bộ để xem nội dung này.",
            {"WWW-Authenticate": 'Bearer realm="paht"'},
        )
    allowed = set(roles) if roles else set(Role)
    if identity.role not in allowed or (agency is not None and not identity.sees_agency(agency)):
        log.info("access_refused", role=identity.role.value, scoped=agency is not None)
        raise _refusal(
            web.HTTPForbidden,
            "forbidden",
            "Tài khoản không có quyền xem nội dung này.",
            {"WWW-Authenticate": 'Bearer error="insufficient_scope"'},
        )
    return identity
