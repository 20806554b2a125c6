"""One classification of dependency failures: what a PostgreSQL restart raises is retried (503 for an API)."""

from __future__ import annotations

import asyncpg
import pytest

from paht_shared.failures import is_dependency_failure


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(),  # the server is down
        ConnectionResetError(),
        TimeoutError(),  # a connect or pool acquire ran out of time
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.CrashShutdownError("terminating connection because of crash of another server process"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.ConnectionFailureError("connection failure"),
        asyncpg.InterfaceError("cannot call Transaction.__aexit__(): the underlying connection is closed"),
        asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in progress"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.SerializationError("could not serialize access"),
    ],
    ids=type,
)
def test_a_database_outage_or_restart_is_a_dependency_failure(exc: BaseException) -> None:
    """Retried by consumers for as long as it lasts, answered 503 by APIs."""
    assert is_dependency_failure(exc)


@pytest.mark.parametrize(
    "exc",
    [
        ValueError(),
        KeyError("field"),
        asyncpg.UniqueViolationError("duplicate key"),
        asyncpg.QueryCanceledError("canceling statement due to statement timeout"),  # the query, not an outage
        asyncpg.UndefinedTableError("relation does not exist"),
    ],
    ids=type,
)
def test_a_fault_of_the_work_itself_is_not(exc: BaseException) -> None:
    """Dead-lettered after bounded retries by consumers, a 500 (or a 4xx mapped by the handler) for APIs."""
    assert not is_dependency_failure(exc)
