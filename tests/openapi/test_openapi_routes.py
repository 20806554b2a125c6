"""Every route each API serves is in its OpenAPI document, and the document describes nothing else."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from aiohttp import web
from schemathesis.core.result import Ok

import intake.app
import intake.config
import intake.openapi
import media.app
import media.config
import media.openapi
import notify.app
import notify.config
import notify.openapi
import routing.app
import routing.config
import routing.openapi
from paht_shared.openapi import ApiDescription, document, undescribed_routes, unserved_operations


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


# Building an application opens nothing: the database pool and the object store start with the server.
APPS: dict[str, tuple[Callable[[], web.Application], ApiDescription]] = {
    "intake": (
        lambda: intake.app.build_app(intake.config.Settings(pii_keys="k1:" + _key(), blind_index_key=_key())),
        intake.openapi.API,
    ),
    "routing": (lambda: routing.app.build_app(routing.config.Settings()), routing.openapi.API),
    "notify": (lambda: notify.app.build_app(notify.config.Settings()), notify.openapi.API),
    "media": (lambda: media.app.build_app(media.config.Settings()), media.openapi.API),
}


@pytest.mark.parametrize("service", sorted(APPS))
def test_every_route_is_described(service: str) -> None:
    """A route added without its description (or a description left after its route went) fails here."""
    build, api = APPS[service]
    app = build()
    assert undescribed_routes(app, api) == []
    assert unserved_operations(app, api) == []


@pytest.mark.parametrize("service", sorted(APPS))
def test_document_is_valid_openapi(service: str) -> None:
    """Schemathesis accepts the document and finds one operation per described route."""
    api = APPS[service][1]
    doc: dict[str, Any] = document(api)
    assert doc["openapi"] == "3.1.0"
    loaded = schemathesis.openapi.from_dict(doc)
    results = list(loaded.get_all_operations())
    assert all(isinstance(result, Ok) for result in results), results
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(api.operations) + 4  # + /healthz, /readyz, /metrics, /openapi.json
    for operation in operations:
        responses = operation.definition.raw["responses"]
        assert "default" in responses, operation.label  # every refusal is described (the error list)


def test_staff_operations_name_their_roles() -> None:
    """The conformance suite mints a token per operation from `x-roles`: a staff route without roles is a gap."""
    for _service, (_build, api) in APPS.items():
        for op in api.operations:
            assert ("staff" in op.auth) == bool(op.roles), f"{op.method} {op.path}"
