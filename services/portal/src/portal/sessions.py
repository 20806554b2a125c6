"""Browser sessions kept in the portal's PostgreSQL schema (aiohttp-session storage).

The cookie holds only a random id; the row is found by the id's SHA-256, so a database dump holds no usable
cookie. What a session holds (a staff member's token, a tracking secret, a hotline call's draft with the
caller's name and phone) never reaches the browser, and is AES-256-GCM ciphertext at rest.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiohttp import web
from aiohttp_session import AbstractStorage, Session

from paht_shared.crypto import FieldCipher

COOKIE_NAME = "paht_session"


def _hash(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


def _context(id_hash: bytes) -> str:
    """What a session's ciphertext is bound to: it decrypts only as this session's row."""
    return "portal.sessions:" + id_hash.hex()


class PostgresStorage(AbstractStorage):
    def __init__(self, pool: Callable[[], asyncpg.Pool], max_age: int, secure: bool, cipher: FieldCipher) -> None:
        # SameSite=Lax: the cookie is not sent with another site's POST (CSRF tokens are the main defence).
        super().__init__(cookie_name=COOKIE_NAME, max_age=max_age, secure=secure, httponly=True, samesite="Lax")
        self._pool = pool
        self._cipher = cipher

    async def load_session(self, request: web.Request) -> Session:
        session_id = self.load_cookie(request)
        if session_id:
            key = _hash(session_id)
            row = await self._pool().fetchrow(
                "SELECT data FROM sessions WHERE id_hash = $1 AND expires_at > now()", key
            )
            if row is not None:
                data = json.loads(self._cipher.decrypt(row["data"], _context(key)))
                return Session(session_id, data=data, new=False, max_age=self.max_age)
        return Session(None, data=None, new=True, max_age=self.max_age)

    async def save_session(self, request: web.Request, response: web.StreamResponse, session: Session) -> None:
        session_id = session.identity
        if session.empty:
            if session_id is not None:
                await self._pool().execute("DELETE FROM sessions WHERE id_hash = $1", _hash(str(session_id)))
            self.save_cookie(response, "", max_age=session.max_age)
            return
        if session_id is None:
            session_id = secrets.token_urlsafe(32)
        expires = datetime.now(UTC) + timedelta(seconds=session.max_age or self.max_age or 3600)
        key = _hash(str(session_id))
        await self._pool().execute(
            "INSERT INTO sessions (id_hash, data, expires_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (id_hash) DO UPDATE SET data = EXCLUDED.data, expires_at = EXCLUDED.expires_at",
            key,
            self._cipher.encrypt(json.dumps(self._get_session_data(session)), _context(key)),
            expires,
        )
        self.save_cookie(response, str(session_id), max_age=session.max_age)

    def open_row(self, id_hash: bytes, data: bytes) -> dict[str, Any]:
        """A stored row's session data (for the tests and an operator's tools)."""
        opened: dict[str, Any] = json.loads(self._cipher.decrypt(data, _context(id_hash)))
        return opened

    def seal_row(self, id_hash: bytes, data: dict[str, Any]) -> bytes:
        return self._cipher.encrypt(json.dumps(data), _context(id_hash))

    async def forget(self, session: Session) -> None:
        """End a session now (logout, or a new login replacing it: no fixation)."""
        if session.identity is not None:
            await self._pool().execute("DELETE FROM sessions WHERE id_hash = $1", _hash(str(session.identity)))

    async def purge_expired(self) -> int:
        result: str = await self._pool().execute("DELETE FROM sessions WHERE expires_at <= now()")
        return int(result.rsplit(maxsplit=1)[-1])
