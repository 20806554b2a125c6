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
    published: dict[int, int]  # host port -> container port: the api's HTTP port, a public listener's port
    port_variable: str | None  # the variable that sets the published port inside the container


# Processes besides the APIs that the outside world connects to: name -> (port variable, default port).
# Inbound email: the province's mail gateway hands mail for the PAHT address to intake's SMTP listener.
PUBLIC_LISTENERS: dict[str, tuple[str, int]] = {"intake-smtp": ("INTAKE_SMTP_PORT", 2525)}


def expected_containers(defaults: Config, services: tuple[Service, ...] = SERVICES) -> dict[str, Container]:
    """`defaults`: a configuration read from an environment without PAHT_* or <SERVICE>_* variables (the file
    publishes the default ports, and what a caller's environment adds is not part of the declaration)."""
    result = {}
    for process in declared_processes(services):
        port = process.service.http_port(defaults)
        published, variable = (
            ({port: port}, f"{process.service.prefix}_HTTP_PORT") if process.kind == "api" else ({}, None)
        )
        if process.name in PUBLIC_LISTENERS:
            variable, listener_port = PUBLIC_LISTENERS[process.name]
            published = {listener_port: listener_port}
        result[process.name] = Container(
            name=process.name,
            service=process.service.name,
            command=("python", *process.python_args),
            dockerfile=f"services/{process.service.name}/Dockerfile",
            variables=frozenset(service_env(defaults, process.service)),
            published=published,
            port_variable=variable,
        )
    return result
