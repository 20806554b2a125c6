"""Schemathesis against each running API: every operation of its /openapi.json, valid and invalid requests.

Two checks on every answer: no 5xx (a client's mistake is a 4xx; 503 with Retry-After is a dependency being
away, which this suite does not cause) and the answer fits the document (its status, and the schema of that
status: the operation's model, or the shared error list). Staff operations are called with a token of a role
the document allows (`x-roles`). Each operation gets a bounded number of examples per generation mode, so
the whole suite stays within a few minutes on two cores.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance

from paht_shared.auth import Role

pytestmark = pytest.mark.e2e

SERVICES = ("intake", "routing", "notify", "media")
EXAMPLES = {schemathesis.GenerationMode.POSITIVE: 40, schemathesis.GenerationMode.NEGATIVE: 40}
# The first allowed role in this order: the widest view, so that calls reach the code behind the role check.
ROLE_PREFERENCE = (Role.ADMIN, Role.COORDINATOR, Role.OPERATOR, Role.OFFICER)
OFFICER_AGENCY = "UBND-PHUONG-SOC-TRANG"
Operation = schemathesis.APIOperation[Any, Any, Any, Any]


def _document(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=10) as resp:
        loaded: dict[str, Any] = json.load(resp)
    return loaded


def _role(operation: Operation) -> Role | None:
    allowed = {Role(r) for r in operation.definition.raw.get("x-roles", [])}
    return next((role for role in ROLE_PREFERENCE if role in allowed), None)


def _failures(operation: Operation, base_url: str, headers: dict[str, str], session: requests.Session) -> list[str]:
    """Runs the operation's examples; returns the failures (each once), not only the first."""
    found: dict[str, str] = {}
    strategy = st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in EXAMPLES))

    @given(case=strategy)
    @settings(
        max_examples=sum(EXAMPLES.values()),
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case[Operation]) -> None:
        try:
            case.call_and_validate(
                base_url=base_url,
                session=session,
                headers=headers,
                checks=[not_a_server_error, response_schema_conformance],
                timeout=30,
            )
        except (AssertionError, FailureGroup) as exc:
            failures = exc.exceptions if isinstance(exc, FailureGroup) else (exc,)
            for failure in failures:
                title = str(getattr(failure, "title", "")) or str(failure).split("\n", 1)[0]
                found.setdefault(title, f"{title}\n{str(failure)[:1500]}\n{case.as_curl_command()}")

    run()
    return [f"{operation.label}: {text}" for text in found.values()]


@pytest.mark.parametrize("service", SERVICES)
def test_api_conforms_to_its_document(service: str, platform: dict[str, Any], staff_token: Callable[..., str]) -> None:
    """0 server errors and 0 answers outside the document, over every operation of the service."""
    port = platform["http_ports"][service]
    base_url = f"http://127.0.0.1:{port}"
    schema = schemathesis.openapi.from_dict(_document(port))
    failures: list[str] = []
    with requests.Session() as session:
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result  # the document itself is broken
            operation = result.ok()
            role = _role(operation)
            headers: dict[str, str] = {}
            if role is not None:
                token = staff_token(role, OFFICER_AGENCY if role is Role.OFFICER else None)
                headers["Authorization"] = f"Bearer {token}"
            failures += _failures(operation, base_url, headers, session)
    assert failures == [], "\n\n".join(failures)
