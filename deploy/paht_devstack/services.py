"""THE declaration of the services. Adding a service is one `Service(...)` entry in SERVICES.

From an entry follow: its processes (`python -m <name> <kind>`, pid and log files `<name>-<kind>`), its HTTP port
(`PAHT_<NAME>_PORT`), its worker health ports, its environment (`<NAME>_*`), its PostgreSQL role and schema with
the migrations its package ships, the topics it needs beyond the platform's, its one-shot set-up commands, and the
containers docker-compose.yml must have for it (compose.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources

import yaml

from paht_devstack.config import Config
from paht_devstack.keys import dev_secret
from paht_shared.auth import public_jwks
from paht_shared.contracts.topics import agency_inbox
from paht_shared.sealing import public_key_of

# Process kinds that are not the API but serve /healthz, /readyz and /metrics on a port of their own.
WORKER_KINDS = ("relay", "consume", "worker")


def no_env(cfg: Config) -> dict[str, str]:
    return {}


def no_topics(cfg: Config) -> list[str]:
    return []


@dataclass(frozen=True)
class Service:
    name: str  # package (`python -m <name>`), PostgreSQL role and schema, variable prefix <NAME>_
    port: int  # default HTTP port of its api process; PAHT_<NAME>_PORT moves it
    processes: tuple[str, ...] = ("api",)  # long-running process kinds, started in this order
    env: Callable[[Config], dict[str, str]] = field(default=no_env)  # its own variables beyond the common ones
    topics: Callable[[Config], list[str]] = field(default=no_topics)  # topics it needs beyond PLATFORM_TOPICS
    setup: tuple[str, ...] = ()  # one-shot commands run after bootstrap: `python -m <name> <command>`

    @property
    def prefix(self) -> str:
        return self.name.upper()

    @property
    def port_variable(self) -> str:
        return f"PAHT_{self.prefix}_PORT"

    def http_port(self, cfg: Config) -> int:
        return int(cfg.environ.get(self.port_variable) or self.port)

    @property
    def has_workers(self) -> bool:
        return any(kind in WORKER_KINDS for kind in self.processes)


# ---------------------------------------------------------------- each service's own variables and topics


def intake_env(cfg: Config) -> dict[str, str]:
    return {
        "INTAKE_PII_KEYS": dev_secret(cfg, "pii_keys"),
        "INTAKE_BLIND_INDEX_KEY": dev_secret(cfg, "blind_index_key"),
        # seals the reporter's contact for notify (NOTIFY_CONTACT_PRIVATE_KEY opens it)
        "INTAKE_NOTIFY_PUBLIC_KEY": public_key_of(dev_secret(cfg, "notify_contact_key")),
        # inbound email (python -m intake smtp) and the media API that takes its attachments
        "INTAKE_SMTP_HOST": "127.0.0.1",
        "INTAKE_SMTP_PORT": cfg.environ.get("PAHT_INTAKE_SMTP_PORT") or "2525",
        "INTAKE_MEDIA_URL": f"http://127.0.0.1:{find('media').http_port(cfg)}",
    }


def routing_env(cfg: Config) -> dict[str, str]:
    # Routing owns the staff accounts and signs their tokens (login); every service verifies them with the
    # public half (auth_env).
    return {
        "ROUTING_AUTH_SIGNING_KEY": dev_secret(cfg, "auth_signing_key"),
        # the inbox topic of an agency added later gets the replication of the ones devstack created
        "ROUTING_KAFKA_REPLICATION": str(cfg.kafka_replication),
    }


def notify_env(cfg: Config) -> dict[str, str]:
    return {
        "NOTIFY_SMTP_HOST": "127.0.0.1",
        "NOTIFY_SMTP_PORT": str(cfg.smtp_sink_port),
        "NOTIFY_SINK_HOST": "127.0.0.1",
        "NOTIFY_SINK_PORT": str(cfg.smtp_sink_port),
        "NOTIFY_SINK_DIR": str(cfg.mail_dir),
        "NOTIFY_CONTACT_PRIVATE_KEY": dev_secret(cfg, "notify_contact_key"),
        # the development SMS gateway and push webhook (python -m notify gateway) and where it records
        "NOTIFY_SMS_URL": f"http://127.0.0.1:{cfg.gateway_port}/sms",
        "NOTIFY_PUSH_URL": f"http://127.0.0.1:{cfg.gateway_port}/push",
        "NOTIFY_GATEWAY_HOST": "127.0.0.1",
        "NOTIFY_GATEWAY_PORT": str(cfg.gateway_port),
        "NOTIFY_GATEWAY_DIR": str(cfg.infra / "gateway"),
    }


def media_env(cfg: Config) -> dict[str, str]:
    return {
        "MEDIA_S3_ENDPOINT": cfg.s3_endpoint,
        "MEDIA_S3_ACCESS_KEY": cfg.s3_access_key,
        "MEDIA_S3_SECRET_KEY": cfg.s3_secret_key,
        "MEDIA_S3_BUCKET": cfg.s3_bucket,
        "MEDIA_URL_SIGNING_KEY": dev_secret(cfg, "media_url_key"),
    }


def portal_env(cfg: Config) -> dict[str, str]:
    # The portal talks to the services' public APIs only; on a development machine it is served over plain
    # http://127.0.0.1, where a Secure cookie would never come back.
    return {
        "PORTAL_INTAKE_URL": f"http://127.0.0.1:{find('intake').http_port(cfg)}",
        "PORTAL_ROUTING_URL": f"http://127.0.0.1:{find('routing').http_port(cfg)}",
        "PORTAL_MEDIA_URL": f"http://127.0.0.1:{find('media').http_port(cfg)}",
        "PORTAL_COOKIE_SECURE": "false",
        "PORTAL_SESSION_KEYS": dev_secret(cfg, "portal_session_keys"),
    }


def agency_topics(cfg: Config) -> list[str]:
    """One inbox per agency of routing's reference data (routing also creates the inbox of an agency added later)."""
    data = yaml.safe_load((resources.files("routing") / "data" / "agencies.yaml").read_text(encoding="utf-8"))
    return [agency_inbox(agency["code"]) for agency in data["agencies"]]


# The order decides the worker ports: PAHT_WORKER_PORT_BASE, +1, ... for each relay/consume process in turn.
SERVICES: tuple[Service, ...] = (
    Service("intake", 8081, ("api", "relay", "consume", "smtp"), env=intake_env),
    Service(
        "routing", 8083, ("api", "relay", "consume"), env=routing_env, topics=agency_topics, setup=("load-reference",)
    ),
    Service("notify", 8084, ("api", "relay", "consume", "sink", "gateway"), env=notify_env),
    Service("media", 8082, ("api", "relay", "worker"), env=media_env),
    Service("portal", 8080, ("api",), env=portal_env),
)


# ---------------------------------------------------------------- what follows from the declaration


def find(name: str, services: tuple[Service, ...] = SERVICES) -> Service:
    for service in services:
        if service.name == name:
            return service
    raise KeyError(f"no service {name!r}; known: {', '.join(s.name for s in services)}")


@dataclass(frozen=True)
class Process:
    name: str  # <service>-<kind>: pid file, log file, compose container
    service: Service
    kind: str

    @property
    def python_args(self) -> list[str]:
        """What follows the interpreter: `python -m <service> <kind>`."""
        return ["-m", self.service.name, self.kind]


def declared_processes(services: tuple[Service, ...] = SERVICES) -> Iterator[Process]:
    for service in services:
        for kind in service.processes:
            yield Process(f"{service.name}-{kind}", service, kind)


def http_ports(cfg: Config, services: tuple[Service, ...] = SERVICES) -> dict[str, int]:
    return {service.name: service.http_port(cfg) for service in services}


def worker_ports(cfg: Config, services: tuple[Service, ...] = SERVICES) -> dict[str, int]:
    """Relay and consumer processes serve /healthz, /readyz, /metrics on consecutive ports, in declaration order."""
    workers = [p.name for p in declared_processes(services) if p.kind in WORKER_KINDS]
    return {name: cfg.worker_port_base + i for i, name in enumerate(workers)}


def auth_env(cfg: Config, service: Service) -> dict[str, str]:
    """Every service verifies staff tokens against the public half of the development signing key (inline JWKS)."""
    return {f"{service.prefix}_AUTH_JWKS": json.dumps(public_jwks(dev_secret(cfg, "auth_signing_key")))}


def service_env(cfg: Config, service: Service) -> dict[str, str]:
    """The variables a service's processes get; docker-compose.yml gives its containers the same names."""
    p = service.prefix
    values = {
        f"{p}_DATABASE_URL": cfg.role_dsn(service.name),
        f"{p}_KAFKA_BOOTSTRAP": cfg.kafka_bootstrap,
        f"{p}_HTTP_HOST": "127.0.0.1",
        f"{p}_HTTP_PORT": str(service.http_port(cfg)),
    }
    if service.has_workers:
        # relay/consumer health and metrics; services-up gives each such process its own port (worker_ports)
        values[f"{p}_WORKER_HTTP_PORT"] = "0"
    values.update(auth_env(cfg, service))
    values.update(service.env(cfg))
    # Explicit values in the caller's environment win (any INTAKE_* etc.).
    values.update({k: v for k, v in cfg.environ.items() if k.startswith(p + "_")})
    return values
