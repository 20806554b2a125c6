"""docker-compose.yml and the Dockerfiles say what deploy/devstack.py says: same processes, variables and ports.

devstack.py is the source of truth (it is what `make run` and the tests use); nothing here needs Docker.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import sys
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
# Variables that change what devstack reports: prefixed ones are passed through to services, PAHT_* move ports.
CALLER_PREFIXES = ("INTAKE_", "ROUTING_", "NOTIFY_", "MEDIA_", "PAHT_")
EXTERNAL_INFRA = ("PAHT_PG_ADMIN_DSN", "PAHT_KAFKA_BOOTSTRAP", "PAHT_S3_ENDPOINT")


@pytest.fixture
def devstack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """A fresh import of deploy/devstack.py with its defaults; the secrets file it may write lands in tmp_path."""
    for name in list(os.environ):
        if name.startswith(CALLER_PREFIXES):
            monkeypatch.delenv(name)
    # Read at import time, so it must be set before the module is executed.
    monkeypatch.setenv("PAHT_INFRA_DIR", str(tmp_path))
    spec = importlib.util.spec_from_file_location("devstack_under_test", ROOT / "deploy" / "devstack.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    return dict(compose["services"])


def processes(devstack: ModuleType) -> list[tuple[str, str]]:
    return [(service, kind) for service in devstack.SERVICES for kind in devstack.PROCESSES[service]]


def command(container: dict[str, Any]) -> list[str]:
    value = container.get("command") or []
    return shlex.split(value) if isinstance(value, str) else [str(part) for part in value]


def environment(container: dict[str, Any]) -> dict[str, str]:
    value = container.get("environment") or {}
    if isinstance(value, list):
        return dict(item.partition("=")[::2] for item in value)
    return {str(key): str(val) for key, val in value.items()}


def published_ports(container: dict[str, Any]) -> dict[int, int]:
    """Host port -> container port, from the short "[ip:]host:container" syntax or the long one."""
    result = {}
    for entry in container.get("ports") or []:
        if isinstance(entry, dict):
            result[int(entry["published"])] = int(entry["target"])
        else:
            *_, host, target = str(entry).split(":")
            result[int(host)] = int(target.split("/")[0])
    return result


def build_context(container: dict[str, Any]) -> Path:
    build = container["build"]
    return ROOT / (build if isinstance(build, str) else build.get("context", "."))


def dockerfile(container: dict[str, Any]) -> Path:
    build = container["build"]
    return build_context(container) / (
        "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    )


def test_every_devstack_process_has_a_container_running_it(
    devstack: ModuleType, services: dict[str, dict[str, Any]]
) -> None:
    """Each process devstack starts is a compose service `<service>-<kind>` running `python -m <service> <kind>`."""
    for service, kind in processes(devstack):
        name = f"{service}-{kind}"
        assert name in services, f"docker-compose.yml has no {name}"
        assert command(services[name]) == ["python", "-m", service, kind], name
        assert dockerfile(services[name]) == ROOT / "services" / service / "Dockerfile", name


def test_containers_get_exactly_devstack_variable_names(
    devstack: ModuleType, services: dict[str, dict[str, Any]]
) -> None:
    """Every container of a service has the variable names service_env() gives that service, and no others."""
    for service, kind in processes(devstack):
        expected = set(devstack.service_env(service))
        actual = set(environment(services[f"{service}-{kind}"]))
        assert actual == expected, f"{service}-{kind}: missing {expected - actual}, extra {actual - expected}"


def test_containers_reach_compose_infrastructure_as_their_own_role(
    devstack: ModuleType, services: dict[str, dict[str, Any]]
) -> None:
    """Each service logs into postgres as its own role with devstack's password, and into Kafka on the network."""
    for service, kind in processes(devstack):
        env = environment(services[f"{service}-{kind}"])
        prefix = service.upper()
        dsn = urlsplit(env[f"{prefix}_DATABASE_URL"])
        assert (dsn.username, dsn.password, dsn.hostname, dsn.path) == (
            service,
            devstack.role_password(service),
            "postgres",
            f"/{devstack.PG_DB}",
        )
        assert env[f"{prefix}_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert env[f"{prefix}_HTTP_HOST"] == "0.0.0.0"  # noqa: S104 - a container must listen beyond its loopback


def test_intake_keys_come_from_the_environment(services: dict[str, dict[str, Any]]) -> None:
    """The personal-data keys are required ${VAR:?...} references, never a key written into the file."""
    intake = {name: container for name, container in services.items() if name.startswith("intake-")}
    assert intake
    for name, container in intake.items():
        env = environment(container)
        for variable in ("INTAKE_PII_KEYS", "INTAKE_BLIND_INDEX_KEY"):
            assert re.fullmatch(rf"\$\{{{variable}:\?[^}}]+\}}", env[variable]), f"{name}: {variable}"


def test_published_ports_match_devstack(devstack: ModuleType, services: dict[str, dict[str, Any]]) -> None:
    """Each api publishes devstack's HTTP port on the same host port, listens on it, and no other process does."""
    for service, port in devstack.HTTP_PORTS.items():
        api = services[f"{service}-api"]
        assert published_ports(api) == {port: port}, service
        assert environment(api)[f"{service.upper()}_HTTP_PORT"] == str(port)
        for kind in devstack.PROCESSES[service]:
            if kind != "api":
                assert not published_ports(services[f"{service}-{kind}"]), f"{service}-{kind}"


def test_every_referenced_dockerfile_exists(services: dict[str, dict[str, Any]]) -> None:
    """Every build names a Dockerfile that is in the repository, built with the repository root as context."""
    built = {name: container for name, container in services.items() if "build" in container}
    assert "bootstrap" in built
    for name, container in built.items():
        path = dockerfile(container)
        assert path.is_file(), f"{name}: {path} does not exist"
        assert build_context(container).resolve() == ROOT, name


def test_service_dockerfiles_expose_their_port_and_run_the_api(devstack: ModuleType) -> None:
    """services/<service>/Dockerfile exposes devstack's port and by default runs `python -m <service> api`."""
    for service, port in devstack.HTTP_PORTS.items():
        lines = (ROOT / "services" / service / "Dockerfile").read_text(encoding="utf-8").splitlines()
        assert f"EXPOSE {port}" in lines, service
        commands = [json.loads(line.removeprefix("CMD ")) for line in lines if line.startswith("CMD ")]
        assert commands == [["python", "-m", service, "api"]], service
        users = [line.split()[1].partition(":")[0] for line in lines if line.startswith("USER ")]
        assert users, f"{service}: no USER, the process would run as root"
        assert users[-1] not in ("root", "0"), service


def test_bootstrap_uses_the_compose_infrastructure(services: dict[str, dict[str, Any]]) -> None:
    """bootstrap points devstack at the three infra containers (so it starts none) and waits for them to be healthy."""
    bootstrap = services["bootstrap"]
    env = environment(bootstrap)
    assert all(env.get(name) for name in EXTERNAL_INFRA)
    assert urlsplit(env["PAHT_PG_ADMIN_DSN"]).hostname == "postgres"
    assert env["PAHT_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert env["PAHT_S3_ENDPOINT"] == "s3:8333"
    assert bootstrap["depends_on"] == {name: {"condition": "service_healthy"} for name in ("postgres", "kafka", "s3")}
    assert str(bootstrap.get("restart")) == "no"


def test_service_processes_wait_for_bootstrap(devstack: ModuleType, services: dict[str, dict[str, Any]]) -> None:
    """No service process starts before bootstrap has finished successfully (roles, schemas, topics, bucket)."""
    for service, kind in processes(devstack):
        depends = services[f"{service}-{kind}"]["depends_on"]
        assert depends["bootstrap"] == {"condition": "service_completed_successfully"}, f"{service}-{kind}"
