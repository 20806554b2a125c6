"""What docker-compose.yml must contain for the declared services (tests/test_compose.py compares the file)."""

from __future__ import annotations

from dataclasses import dataclass

from paht_devstack.config import Config
from paht_devstack.services import SERVICES, Service, declared_processes, service_env


@dataclass(frozen=True)
class Container:
    name: str  # the compose service: <service>-<kind>
    service: str
    command: tuple[str, ...]  # python -m <service> <kind>
    dockerfile: str  # relative to the repository root, which is the build context
    variables: frozenset[str]  # exactly the names devstack's service_env() gives the service
    published: dict[int, int]  # host port -> container port: the api's HTTP port, nothing for other processes


def expected_containers(defaults: Config, services: tuple[Service, ...] = SERVICES) -> dict[str, Container]:
    """`defaults`: a configuration read from an environment without PAHT_* or <SERVICE>_* variables (the file
    publishes the default ports, and what a caller's environment adds is not part of the declaration)."""
    result = {}
    for process in declared_processes(services):
        port = process.service.http_port(defaults)
        result[process.name] = Container(
            name=process.name,
            service=process.service.name,
            command=("python", *process.python_args),
            dockerfile=f"services/{process.service.name}/Dockerfile",
            variables=frozenset(service_env(defaults, process.service)),
            published={port: port} if process.kind == "api" else {},
        )
    return result
