"""Staff account use cases: login with a password or the province's OpenID Connect provider (both end in our
own short-lived token), the admin's account management (audited), and the console command for the first admin."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import math
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import asyncpg
import jwt
import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from paht_shared import audit
from paht_shared.auth import ASYMMETRIC_ALGORITHMS, Identity, Role, mint_token
from paht_shared.db import create_pool
from routing import accounts_repository as repository
from routing.account_models import (
    CreateStaff,
    FieldError,
    InvalidAccount,
    IssuedToken,
    LoginRequest,
    OidcLoginRequest,
    StaffAccount,
    StaffView,
    UpdateStaff,
    field_error,
    parse,
    password_is_weak,
    scope_errors,
)
from routing.config import Settings

log = structlog.get_logger("routing.accounts")

# The password comes from the environment, never a command-line argument: `ps` shows those to every user.
PASSWORD_ENV = "PAHT_STAFF_PASSWORD"  # noqa: S105 - the variable's name, not a password
OIDC_REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud"]
OIDC_LEEWAY_SECONDS = 30


class AuthNotConfigured(Exception):
    """No signing key: routing cannot issue tokens."""


class InvalidCredentials(Exception):
    """Unknown username, wrong password or disabled account: deliberately one answer for all three."""


class AccountLocked(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("account locked")
        self.retry_after = retry_after


class OidcNotConfigured(Exception):
    pass


class InvalidIdToken(Exception):
    """The provider's ID token cannot be trusted; `reason` is for logs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OidcUnavailable(Exception):
    """The provider's JWKS could not be fetched."""


class AccountNotLinked(Exception):
    """A valid ID token, but no enabled account has its subject."""


class AccountNotFound(Exception):
    pass


class AccountConflict(Exception):
    """A unique value (username, OpenID Connect subject) belongs to another account, or an admin would lock
    themselves out; `code` says which."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True, slots=True)
class Actor:
    """Who changes an account, as the audit log records it."""

    subject: str
    role: str
    agency: str | None = None

    @classmethod
    def of(cls, identity: Identity) -> Actor:
        return cls(identity.subject, identity.role.value, identity.agency)


# --- passwords ----------------------------------------------------------------------------------------


class Passwords:
    """argon2id off the event loop, a few checks at a time: each takes ~0.1 s of CPU and 64 MiB, so a burst of
    logins must queue rather than take the process's memory."""

    def __init__(self, hasher: PasswordHasher | None = None, concurrency: int | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._slots = asyncio.Semaphore(concurrency or os.cpu_count() or 2)

    @cached_property
    def _dummy_hash(self) -> str:
        return self._hasher.hash(uuid.uuid4().hex)

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def matches(self, password_hash: str, password: str) -> bool:
        async with self._slots:
            return await asyncio.to_thread(self._verify, password_hash, password)

    async def spend_check(self, password: str) -> None:
        """The work of a real check, for an unknown username: its answer comes no faster than a wrong password."""
        async with self._slots:
            await asyncio.to_thread(self._verify_dummy, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    def _verify_dummy(self, password: str) -> None:
        # In the worker thread: the dummy hash itself costs a hash the first time.
        self._verify(self._dummy_hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except InvalidHashError:
            log.error("password_hash_unreadable")
            return False
        except VerificationError:  # VerifyMismatchError and its kin: not this password
            return False


# --- tokens -------------------------------------------------------------------------------------------


def _signing_key(settings: Settings) -> str:
    if not settings.auth_signing_key:
        raise AuthNotConfigured
    return settings.auth_signing_key


def _issue(settings: Settings, signing_key: str, account: StaffAccount) -> IssuedToken:
    token = mint_token(
        signing_key,
        subject=str(account.id),
        role=account.role,
        agency=account.agency_code,
        ttl_seconds=settings.token_ttl_seconds,
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
    )
    return IssuedToken(
        access_token=token, expires_in=settings.token_ttl_seconds, role=account.role, agency=account.agency_code
    )


def _seconds_until(moment: datetime | None) -> int:
    if moment is None:
        return 1
    return max(1, math.ceil((moment - datetime.now(UTC)).total_seconds()))


async def login(pool: asyncpg.Pool, settings: Settings, passwords: Passwords, request: LoginRequest) -> IssuedToken:
    """Username and password -> our token. Raises InvalidCredentials, AccountLocked or AuthNotConfigured."""
    signing_key = _signing_key(settings)
    username = request.username.strip().lower()
    async with pool.acquire() as conn:
        account = await repository.find_by_username(conn, username)
        password_hash = None if account is None or account.disabled else account.password_hash
        if account is not None and password_hash is not None:
            claimed = await repository.claim_login_attempt(
                conn, account.id, settings.login_max_failures, settings.login_lock_minutes
            )
            if not claimed:
                # Refused before the password is checked: a locked account answers the same whether it is right.
                log.warning("login_locked", account_id=str(account.id))
                raise AccountLocked(_seconds_until(await repository.locked_until(conn, account.id)))
    if account is None or password_hash is None:
        await passwords.spend_check(request.password)
        log.info("login_refused", reason="disabled" if account is not None and account.disabled else "unknown")
        raise InvalidCredentials
    if not await passwords.matches(password_hash, request.password):
        log.warning("login_failed", account_id=str(account.id))
        raise InvalidCredentials
    new_hash = await passwords.hash(request.password) if passwords.needs_rehash(password_hash) else None
    async with pool.acquire() as conn:
        await repository.record_login_success(conn, account.id, password_hash, new_hash)
    log.info("login_succeeded", account_id=str(account.id), role=account.role.value, rehashed=new_hash is not None)
    return _issue(settings, signing_key, account)


async def refresh(pool: asyncpg.Pool, settings: Settings, identity: Identity) -> IssuedToken:
    """A still-valid token -> a new one, for a session that outlives one token (the portal's consoles).

    Only while the account exists, is enabled and still has the role and agency the token says: a disabled
    or changed account gets InvalidCredentials and must log in again (its tokens then end within their TTL)."""
    signing_key = _signing_key(settings)
    try:
        account_id = uuid.UUID(identity.subject)
    except ValueError:
        raise InvalidCredentials from None  # a token routing did not issue for an account (a process's own)
    async with pool.acquire() as conn:
        account = await repository.find_by_id(conn, account_id)
    if (
        account is None
        or account.disabled
        or account.role != identity.role
        or (account.agency_code or None) != identity.agency
    ):
        log.info("token_refresh_refused", subject=identity.subject)
        raise InvalidCredentials
    return _issue(settings, signing_key, account)


# --- OpenID Connect -----------------------------------------------------------------------------------


class OidcVerifier:
    """Checks a province provider's ID tokens against its JWKS (fetched and cached by PyJWT, in a thread:
    PyJWKClient blocks) and returns the configured claim, the value staff_accounts.oidc_subject holds."""

    def __init__(self, jwks_url: str, issuer: str, audience: str, claim: str, timeout_seconds: float = 5.0) -> None:
        self._client = jwt.PyJWKClient(jwks_url, timeout=timeout_seconds)
        self._issuer = issuer
        self._audience = audience
        self._claim = claim

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcVerifier | None:
        """None unless issuer, JWKS URL and audience are all set: a half-configured provider verifies nothing."""
        if not (settings.oidc_issuer and settings.oidc_jwks_url and settings.oidc_audience):
            return None
        return cls(settings.oidc_jwks_url, settings.oidc_issuer, settings.oidc_audience, settings.oidc_claim)

    async def subject(self, id_token: str) -> str:
        """Raises InvalidIdToken or OidcUnavailable."""
        return await asyncio.to_thread(self._subject, id_token)

    def _subject(self, id_token: str) -> str:
        try:
            key = self._client.get_signing_key_from_jwt(id_token)
        except jwt.PyJWKClientConnectionError as exc:
            raise OidcUnavailable from exc
        except jwt.PyJWTError as exc:
            raise InvalidIdToken("unknown_key" if isinstance(exc, jwt.PyJWKClientError) else "malformed") from exc
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                # Asymmetric only (never "none" or HMAC); PyJWT also holds the token to the key's own algorithm.
                algorithms=sorted(ASYMMETRIC_ALGORITHMS),
                issuer=self._issuer,
                audience=self._audience,
                leeway=OIDC_LEEWAY_SECONDS,
                options={"require": OIDC_REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as exc:
            raise InvalidIdToken(type(exc).__name__) from exc
        value = claims.get(self._claim)
        if not isinstance(value, str) or not value.strip():
            raise InvalidIdToken("claim_missing")
        if self._claim == "email" and claims.get("email_verified") is False:
            # Some providers let users type any address: an unverified one could name someone else's account.
            raise InvalidIdToken("email_unverified")
        return value.strip()


async def login_with_oidc(
    pool: asyncpg.Pool, settings: Settings, oidc: OidcVerifier | None, request: OidcLoginRequest
) -> IssuedToken:
    """The provider's ID token -> our token for the enabled account linked to its subject."""
    if oidc is None:
        raise OidcNotConfigured
    signing_key = _signing_key(settings)
    try:
        subject = await oidc.subject(request.id_token)
    except InvalidIdToken as exc:
        log.info("oidc_token_refused", reason=exc.reason)
        raise
    async with pool.acquire() as conn:
        account = await repository.find_by_oidc_subject(conn, subject)
    if account is None or account.disabled:
        log.info("oidc_login_refused", reason="disabled" if account is not None else "not_linked")
        raise AccountNotLinked
    log.info("oidc_login_succeeded", account_id=str(account.id), role=account.role.value)
    return _issue(settings, signing_key, account)


# --- the admin's account management -------------------------------------------------------------------


async def list_staff(pool: asyncpg.Pool) -> list[StaffView]:
    async with pool.acquire() as conn:
        return [StaffView.of(a) for a in await repository.list_accounts(conn)]


def _conflict(exc: asyncpg.UniqueViolationError) -> AccountConflict:
    if exc.constraint_name == repository.OIDC_SUBJECT_CONSTRAINT:
        return AccountConflict("oidc_subject_taken")
    return AccountConflict("username_taken")


async def _audit(conn: asyncpg.Connection, actor: Actor, action: str, account_id: uuid.UUID, note: str | None) -> None:
    # Ids and codes only (the audit log keeps no personal data): the account's id, never its name.
    await audit.append(
        conn,
        audit.AuditEntry(
            actor=actor.subject,
            actor_role=actor.role,
            actor_agency=actor.agency,
            action=action,
            subject=f"staff:{account_id}",
            reason=note,
        ),
    )


def _scope(role: Role, agency_code: str | None) -> str:
    return f"role={role.value} agency={agency_code or '-'}"


async def create_staff(pool: asyncpg.Pool, passwords: Passwords, actor: Actor, cmd: CreateStaff) -> StaffView:
    """A new account (and its audit rows, in the same transaction). Raises InvalidAccount or AccountConflict."""
    errors = scope_errors(cmd.role, cmd.agency_code)
    if cmd.password is not None and password_is_weak(cmd.password, cmd.username):
        errors.append(field_error("password", "weak_password"))
    async with pool.acquire() as conn:
        if cmd.agency_code is not None and not await repository.agency_exists(conn, cmd.agency_code):
            errors.append(field_error("agency_code", "unknown_agency"))
        _raise_if(errors)
        password_hash = await passwords.hash(cmd.password) if cmd.password is not None else None
        async with conn.transaction():
            try:
                account = await repository.insert_account(
                    conn,
                    cmd.username,
                    cmd.display_name,
                    password_hash,
                    cmd.role.value,
                    cmd.agency_code,
                    cmd.oidc_subject,
                )
            except asyncpg.UniqueViolationError as exc:
                raise _conflict(exc) from None
            await _audit(conn, actor, "staff.created", account.id, _scope(account.role, account.agency_code))
            if password_hash is not None:
                await _audit(conn, actor, "staff.password_set", account.id, None)
            if account.oidc_subject is not None:
                await _audit(conn, actor, "staff.oidc_linked", account.id, None)
    log.info("staff_account_created", account_id=str(account.id), role=account.role.value, actor=actor.subject)
    return StaffView.of(account)


async def update_staff(
    pool: asyncpg.Pool, passwords: Passwords, actor: Actor, account_id: uuid.UUID, cmd: UpdateStaff
) -> StaffView:
    """Changes what the admin sent, each kind of change audited in the same transaction. Setting a password
    also lifts a lock. Raises AccountNotFound, InvalidAccount or AccountConflict."""
    sent = cmd.model_fields_set
    async with pool.acquire() as conn, conn.transaction():
        account = await repository.find_by_id(conn, account_id, for_update=True)
        if account is None:
            raise AccountNotFound
        role = cmd.role if cmd.role is not None else account.role
        agency = cmd.agency_code if "agency_code" in sent else account.agency_code
        errors = scope_errors(role, agency)
        if agency is not None and agency != account.agency_code and not await repository.agency_exists(conn, agency):
            errors.append(field_error("agency_code", "unknown_agency"))
        if cmd.password is not None and password_is_weak(cmd.password, account.username):
            errors.append(field_error("password", "weak_password"))
        _raise_if(errors)
        if str(account.id) == actor.subject and (cmd.disabled or role is not Role.ADMIN):
            # The last admin could otherwise disable or demote themselves and nobody could undo it over HTTP.
            raise AccountConflict("own_account")

        changes: dict[str, Any] = {}
        actions: list[tuple[str, str | None]] = []
        if cmd.display_name is not None and cmd.display_name != account.display_name:
            changes["display_name"] = cmd.display_name
            actions.append(("staff.renamed", None))
        if (role, agency) != (account.role, account.agency_code):
            changes.update(role=role.value, agency_code=agency)
            actions.append(("staff.rescoped", f"{_scope(account.role, account.agency_code)} -> {_scope(role, agency)}"))
        if cmd.disabled is not None and cmd.disabled != account.disabled:
            changes["disabled"] = cmd.disabled
            actions.append(("staff.disabled" if cmd.disabled else "staff.enabled", None))
        if "oidc_subject" in sent and cmd.oidc_subject != account.oidc_subject:
            changes["oidc_subject"] = cmd.oidc_subject
            actions.append(("staff.oidc_linked" if cmd.oidc_subject else "staff.oidc_unlinked", None))
        if cmd.password is not None:
            changes["password_hash"] = await passwords.hash(cmd.password)
            actions.append(("staff.password_set", None))
        if not changes:
            return StaffView.of(account)
        try:
            updated = await repository.update_account(conn, account.id, changes, unlock=cmd.password is not None)
        except asyncpg.UniqueViolationError as exc:
            raise _conflict(exc) from None
        for action, note in actions:
            await _audit(conn, actor, action, account.id, note)
    log.info("staff_account_changed", account_id=str(account.id), actions=[a for a, _ in actions], actor=actor.subject)
    return StaffView.of(updated)


def _raise_if(errors: list[FieldError]) -> None:
    if errors:
        raise InvalidAccount(errors)


# --- the console: the first admin ---------------------------------------------------------------------


def create_staff_command(settings: Settings, argv: Sequence[str], environ: Mapping[str, str]) -> None:
    """`python -m routing create-staff --username U --role R [--agency A] --display-name N`, the password in
    $PAHT_STAFF_PASSWORD. Nobody can create the first admin over HTTP: that needs an admin's token."""
    parser = argparse.ArgumentParser(prog="python -m routing create-staff", description=create_staff_command.__doc__)
    parser.add_argument("--username", required=True)
    parser.add_argument("--role", required=True, choices=[r.value for r in Role])
    parser.add_argument("--agency", default=None, help="agency code; required for officers")
    parser.add_argument("--display-name", required=True)
    args = parser.parse_args(argv)
    password = environ.get(PASSWORD_ENV, "")
    if not password:
        raise SystemExit(f"set the password in the environment variable {PASSWORD_ENV}, not on the command line")
    body = {
        "username": args.username,
        "display_name": args.display_name,
        "role": args.role,
        "agency_code": args.agency,
        "password": password,
    }
    actor = Actor(subject=f"console:{getpass.getuser()}", role="system")
    try:
        view = asyncio.run(_create_from_console(settings, actor, parse(CreateStaff, body)))
    except InvalidAccount as exc:
        raise SystemExit("\n".join(f"{e['field']}: {e['code']} - {e['message']}" for e in exc.errors)) from None
    except AccountConflict as exc:
        raise SystemExit(exc.code) from None
    print(json.dumps(view.model_dump(mode="json"), ensure_ascii=False))


async def _create_from_console(settings: Settings, actor: Actor, cmd: CreateStaff) -> StaffView:
    pool = await create_pool(settings.database_url, settings.db_schema, min_size=1, max_size=1)
    try:
        return await create_staff(pool, Passwords(), actor, cmd)
    finally:
        await pool.close()
