"""docker-compose.yml and the Dockerfiles say what devstack's declaration of the services says: same processes,
variables, ports, roles and passwords.

The declaration (deploy/paht_devstack/services.py) is the source of truth: it is what `make run` and the tests
use. Nothing here needs Docker.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from paht_devstack import s3
from paht_devstack.compose import Container, expected_containers
from paht_devstack.config import Config
from paht_devstack.services import SERVICES

ROOT = Path(__file__).resolve().parent.parent
EXTERNAL_INFRA = ("PAHT_PG_ADMIN_DSN", "PAHT_KAFKA_BOOTSTRAP", "PAHT_S3_ENDPOINT")


@pytest.fixture
def defaults(tmp_path: Path) -> Config:
    """devstack's configuration with no variables set; the dev keys it may generate land in tmp_path."""
    return Config.from_env({"PAHT_INFRA_DIR": str(tmp_path)})


@pytest.fixture
def expected(defaults: Config) -> dict[str, Container]:
    return expected_containers(defaults)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


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


def with_defaults(text: str) -> str:
    """Compose's `${VAR:-default}` interpolation, for a caller who sets no variables."""
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", text)


def test_every_declared_process_has_a_container_running_it(
    expected: dict[str, Container], services: dict[str, dict[str, Any]]
) -> None:
    """Each declared process is a compose service `<service>-<kind>` running `python -m <service> <kind>`."""
    for name, want in expected.items():
        assert name in services, f"docker-compose.yml has no {name}"
        assert tuple(command(services[name])) == want.command, name
        assert dockerfile(services[name]) == ROOT / want.dockerfile, name


def test_no_service_container_the_declaration_does_not_know(
    expected: dict[str, Container], services: dict[str, dict[str, Any]]
) -> None:
    """A container built from a service's Dockerfile runs a declared process (a removed one leaves no orphan)."""
    built_from_services = {
        name
        for name, container in services.items()
        if "build" in container and dockerfile(container).is_relative_to(ROOT / "services")
    }
    assert built_from_services == set(expected)


def test_containers_get_exactly_the_declared_variable_names(
    expected: dict[str, Container], services: dict[str, dict[str, Any]]
) -> None:
    """Every container of a service has the variable names service_env() gives that service, and no others."""
    for name, want in expected.items():
        actual = set(environment(services[name]))
        assert actual == want.variables, f"{name}: missing {want.variables - actual}, extra {actual - want.variables}"


def test_containers_reach_compose_infrastructure_as_their_own_role(
    defaults: Config, expected: dict[str, Container], services: dict[str, dict[str, Any]]
) -> None:
    """Each service logs into postgres as its own role with devstack's password, and into Kafka on the network."""
    for name, want in expected.items():
        env = environment(services[name])
        prefix = want.service.upper()
        dsn = urlsplit(env[f"{prefix}_DATABASE_URL"])
        assert (dsn.username, dsn.password, dsn.hostname, dsn.path) == (
            want.service,
            defaults.role_password(want.service),
            "postgres",
            f"/{defaults.pg_database}",
        ), name
        assert env[f"{prefix}_KAFKA_BOOTSTRAP"] == "kafka:9092", name
        assert env[f"{prefix}_HTTP_HOST"] == "0.0.0.0", name  # noqa: S104 - a container must listen beyond loopback


def test_intake_keys_come_from_the_environment(services: dict[str, dict[str, Any]]) -> None:
    """The personal-data keys are required ${VAR:?...} references, never a key written into the file."""
    intake = {name: container for name, container in services.items() if name.startswith("intake-")}
    assert intake
    for name, container in intake.items():
        env = environment(container)
        for variable in ("INTAKE_PII_KEYS", "INTAKE_BLIND_INDEX_KEY"):
            assert re.fullmatch(rf"\$\{{{variable}:\?[^}}]+\}}", env[variable]), f"{name}: {variable}"


def test_published_ports_match_the_declaration(
    expected: dict[str, Container], services: dict[str, dict[str, Any]]
) -> None:
    """Each api, and each public listener (inbound SMTP), publishes its declared port on the same host port and
    listens on it; no other process publishes anything."""
    for name, want in expected.items():
        assert published_ports(services[name]) == want.published, name
        for port in want.published.values():
            assert want.port_variable is not None, name
            assert environment(services[name])[want.port_variable] == str(port), name


def test_every_referenced_dockerfile_exists(services: dict[str, dict[str, Any]]) -> None:
    """Every build names a Dockerfile that is in the repository, built with the repository root as context."""
    built = {name: container for name, container in services.items() if "build" in container}
    assert "bootstrap" in built
    for name, container in built.items():
        path = dockerfile(container)
        assert path.is_file(), f"{name}: {path} does not exist"
        assert build_context(container).resolve() == ROOT, name


def test_service_dockerfiles_expose_their_port_and_run_the_api(defaults: Config) -> None:
    """services/<service>/Dockerfile exposes the declared port and by default runs `python -m <service> api`."""
    for service in SERVICES:
        lines = (ROOT / "services" / service.name / "Dockerfile").read_text(encoding="utf-8").splitlines()
        assert f"EXPOSE {service.http_port(defaults)}" in lines, service.name
        commands = [json.loads(line.removeprefix("CMD ")) for line in lines if line.startswith("CMD ")]
        assert commands == [["python", "-m", service.name, "api"]], service.name
        users = [line.split()[1].partition(":")[0] for line in lines if line.startswith("USER ")]
        assert users, f"{service.name}: no USER, the process would run as root"
        assert users[-1] not in ("root", "0"), service.name


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


def test_service_processes_wait_for_bootstrap(
    expected: dict[str, Container], services: dict[str, dict[str, Any]]
) -> None:
    """No service process starts before bootstrap has finished successfully (roles, schemas, topics, bucket)."""
    for name in expected:
        depends = services[name]["depends_on"]
        assert depends["bootstrap"] == {"condition": "service_completed_successfully"}, name


def test_postgres_container_commits_synchronously(services: dict[str, dict[str, Any]]) -> None:
    """The compose PostgreSQL runs with devstack's durability: synchronous_commit on, fsync as PAHT_PG_FSYNC."""
    settings = dict(with_defaults(arg).partition("=")[::2] for arg in command(services["postgres"]) if "=" in arg)
    assert settings["synchronous_commit"] == "on"
    assert settings["fsync"] == settings["full_page_writes"] == "on"


def test_s3_container_knows_devstack_s_identity(defaults: Config, compose: dict[str, Any]) -> None:
    """The compose S3 server's identities file is the one devstack writes for its embedded SeaweedFS."""
    content = with_defaults(compose["configs"]["s3-identities"]["content"])
    assert json.loads(content) == s3.identities(defaults)
