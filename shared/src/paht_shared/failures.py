"""Which failures belong to a dependency (database, broker, mail server) rather than to the message or request.

One classification for every process: a consumer retries these for as long as they last instead of
dead-lettering the event, and an API answers them with 503 and `Retry-After` instead of 500.
"""

from __future__ import annotations

import asyncpg

DEPENDENCY_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # refused or reset connections (PostgreSQL down, SMTP, HTTP); smtplib.SMTPException is one too
    TimeoutError,  # a connect or a pool acquire that ran out of time
    # The connection went away, also in the middle of a transaction or of its COMMIT (outcome unknown: the
    # inbox makes the retry safe): ConnectionDoesNotExistError, ConnectionFailureError, ...
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # "connection is closed": a pooled connection the server dropped
    # A pooled connection whose backend was terminated while it sat idle: the server's goodbye arrives
    # unasked and the next query finds the protocol mid-operation ("cannot switch to state ...").
    asyncpg.InternalClientError,
    # PostgreSQL stopping or restarting: fast or immediate shutdown, crash of another backend, start-up and
    # recovery, a session the server timed out
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.IdleSessionTimeoutError,
    asyncpg.TooManyConnectionsError,
    # a concurrent transaction won: running the same work again succeeds
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
)


def is_dependency_failure(exc: BaseException) -> bool:
    """True when `exc` says something the work depends on is unavailable, not that the work is wrong."""
    return isinstance(exc, DEPENDENCY_ERRORS)
