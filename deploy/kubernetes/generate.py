"""Writes the Kubernetes manifests of deploy/kubernetes/ from devstack's declaration of the services.

    python deploy/kubernetes/generate.py          # rewrite the files
    python deploy/kubernetes/generate.py --check  # exit 1, naming the files, if they differ from the declaration

The declaration (deploy/paht_devstack/services.py) is the source of truth, as for docker-compose.yml: one
Deployment per long-running process kind (notify's development sink and gateway excepted), each with the variable
names service_env() gives its service, their values from the ConfigMap `paht-config`, from Secrets (never written
here) or fixed for a cluster (ports, the other services' addresses). tests/test_kubernetes.py checks the result
against the declaration without this script. A province changes what it needs in a kustomize overlay, not here.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # paht_devstack, when run as a script

# after the path above
from paht_devstack.compose import PUBLIC_LISTENERS  # noqa: E402
from paht_devstack.config import Config  # noqa: E402
from paht_devstack.services import (  # noqa: E402
    SERVICES,
    WORKER_KINDS,
    Process,
    Service,
    declared_processes,
    find,
    service_env,
)

Manifest = dict[str, Any]

WORKER_PORT = 9200  # <PREFIX>_WORKER_HTTP_PORT of relay/consume/worker pods: each pod has its own network namespace
UID = 10001  # the services' Dockerfiles: USER 10001:10001
CONFIG = "paht-config"

# notify's SMTP sink and SMS/push recorder stand in for a real mail relay and real providers on a development
# machine; a province points notify at its own (smtp-relay-*, sms-url, push-url in paht-config).
DEVELOPMENT_ONLY_KINDS = frozenset({"sink", "gateway"})
DEVELOPMENT_ONLY_VARIABLES = frozenset(
    {
        "NOTIFY_SINK_HOST",
        "NOTIFY_SINK_PORT",
        "NOTIFY_SINK_DIR",
        "NOTIFY_GATEWAY_HOST",
        "NOTIFY_GATEWAY_PORT",
        "NOTIFY_GATEWAY_DIR",
    }
)

# Processes that must run once: intake's SMTP listener limits each sender in its own memory (SenderLimiter).
SINGLE = frozenset({"intake-smtp"})

# Resident memory (ps -o rss) of each process of the running development stack (freshly started, idle; the highest of
# four samples 20 s apart), MiB, and when measured.
MEASURED_ON = "2026-11-29"
MEASURED_RSS_MIB: dict[str, int] = {
    "intake-api": 96,
    "intake-relay": 82,
    "intake-consume": 83,
    "intake-smtp": 83,
    "routing-api": 80,
    "routing-relay": 81,
    "routing-consume": 90,
    "notify-api": 79,
    "notify-relay": 81,
    "notify-consume": 86,
    "media-api": 89,
    "media-relay": 79,
    "media-worker": 105,
    "portal-api": 76,
}
# What a process needs beyond its idle size: media's worker decodes and re-encodes photos and videos (Pillow's
# pixel cap, PyAV), media's api holds about three 5 MiB parts per upload in flight.
LIMIT_MIB = {"media-worker": 2048, "media-api": 768}
CPU_REQUEST = {"api": "100m", "relay": "50m", "consume": "100m", "worker": "250m", "smtp": "50m"}
CPU_LIMIT = {"media-worker": "2"}
TMP_SIZE = {"media-worker": "4Gi", "media-api": "1Gi"}  # the worker unpacks an original (video) in /tmp


def config(key: str) -> Manifest:
    return {"valueFrom": {"configMapKeyRef": {"name": CONFIG, "key": key}}}


def secret(service: str, key: str) -> Manifest:
    return {"valueFrom": {"secretKeyRef": {"name": f"paht-{service}", "key": key}}}


def literal(value: str) -> Manifest:
    return {"value": value}


# paht-config: key -> (placeholder, what the province puts there). Placeholders end in .example: nothing resolves.
CONFIG_KEYS: dict[str, tuple[str, str]] = {
    "pg-host": ("postgresql.paht.example", "external PostgreSQL 15+ (one database, one role and schema per service)"),
    "pg-port": ("5432", ""),
    "pg-database": ("paht", ""),
    "pg-sslmode": ("verify-full", "asyncpg's sslmode: disable, prefer, require, verify-ca, verify-full"),
    "kafka-bootstrap": ("kafka-0.paht.example:9092,kafka-1.paht.example:9092,kafka-2.paht.example:9092", ""),
    "kafka-replication": ("3", "replicas of each agency inbox topic routing creates (as the cluster's other topics)"),
    "s3-endpoint": ("s3.paht.example:443", "host:port of the S3 endpoint"),
    "s3-secure": ("true", "https to S3"),
    "s3-bucket": ("paht-media", ""),
    "auth-jwks": ("", "staff tokens: the JWKS (inline JSON or an https jwks_uri); empty: staff endpoints refuse"),
    "notify-contact-public-key": ("", "public half of notify's contact key; empty: no citizen is notified"),
    "intake-mail-addresses": ("paht@province.example", "the province's PAHT addresses (comma-separated)"),
    "intake-trusted-proxies": ("10.0.0.0/8", "the ingress's and portal pods' addresses: X-Forwarded-For from them"),
    "smtp-relay-host": ("smtp.province.example", "the province's outgoing mail relay"),
    "smtp-relay-port": ("25", ""),
    "mail-from": ("PAHT <no-reply@province.example>", ""),
    "reply-to": ("PAHT <paht@province.example>", "one of intake-mail-addresses, so that a reply reaches intake"),
    "portal-public-url": ("https://paht.province.example", "the links in notify's emails"),
    "sms-url": ("https://sms.provider.example/send", "the SMS gateway's API"),
    "push-url": ("https://push.province.example/webhook", "the app's push webhook"),
}

# Where each variable's value comes from, beyond the ones every service has (common_source).
SOURCES: dict[str, Manifest] = {
    "INTAKE_PII_KEYS": secret("intake", "pii-keys"),
    "INTAKE_BLIND_INDEX_KEY": secret("intake", "blind-index-key"),
    "INTAKE_NOTIFY_PUBLIC_KEY": config("notify-contact-public-key"),
    "INTAKE_SMTP_HOST": literal("0.0.0.0"),  # noqa: S104 - a pod listens on its own interface
    "INTAKE_SMTP_PORT": literal(str(PUBLIC_LISTENERS["intake-smtp"][1])),
    "INTAKE_MAIL_ADDRESSES": config("intake-mail-addresses"),
    "INTAKE_TRUSTED_PROXIES": config("intake-trusted-proxies"),
    "ROUTING_AUTH_SIGNING_KEY": secret("routing", "auth-signing-key"),
    "ROUTING_KAFKA_REPLICATION": config("kafka-replication"),
    "NOTIFY_SMTP_HOST": config("smtp-relay-host"),
    "NOTIFY_SMTP_PORT": config("smtp-relay-port"),
    "NOTIFY_CONTACT_PRIVATE_KEY": secret("notify", "contact-private-key"),
    "NOTIFY_SMS_URL": config("sms-url"),
    "NOTIFY_PUSH_URL": config("push-url"),
    "NOTIFY_SMS_API_KEY": secret("notify", "sms-api-key"),
    "NOTIFY_PUSH_SECRET": secret("notify", "push-secret"),
    "NOTIFY_MAIL_FROM": config("mail-from"),
    "NOTIFY_REPLY_TO": config("reply-to"),
    "NOTIFY_PORTAL_URL": config("portal-public-url"),
    "MEDIA_S3_ENDPOINT": config("s3-endpoint"),
    "MEDIA_S3_SECURE": config("s3-secure"),
    "MEDIA_S3_BUCKET": config("s3-bucket"),
    "MEDIA_S3_ACCESS_KEY": secret("media", "s3-access-key"),
    "MEDIA_S3_SECRET_KEY": secret("media", "s3-secret-key"),
    "MEDIA_URL_SIGNING_KEY": secret("media", "url-signing-key"),
    "PORTAL_COOKIE_SECURE": literal("true"),  # behind the province's HTTPS ingress
    "PORTAL_SESSION_KEYS": secret("portal", "session-keys"),
}

# Variables the development stack leaves at their defaults but a province must set: the defaults are development
# secrets (SMS key, push secret), loopback addresses (portal links, trusted proxies), plain-http S3, or example
# mail addresses. tests/test_kubernetes.py lists the same names.
PRODUCTION_ONLY: dict[str, tuple[str, ...]] = {
    "intake": ("INTAKE_MAIL_ADDRESSES", "INTAKE_TRUSTED_PROXIES"),
    "notify": ("NOTIFY_SMS_API_KEY", "NOTIFY_PUSH_SECRET", "NOTIFY_MAIL_FROM", "NOTIFY_REPLY_TO", "NOTIFY_PORTAL_URL"),
    "media": ("MEDIA_S3_SECURE",),
}

# The services' addresses inside the cluster: the api's Service is <service>-api, as the compose container.
API_URL_VARIABLES = {
    "INTAKE_MEDIA_URL": "media",
    "PORTAL_INTAKE_URL": "intake",
    "PORTAL_ROUTING_URL": "routing",
    "PORTAL_MEDIA_URL": "media",
}


def defaults(infra: Path) -> Config:
    """devstack's configuration with no variables set; service_env() writes development keys into `infra`."""
    return Config.from_env({"PAHT_INFRA_DIR": str(infra)})


def password_variable(service: Service) -> str:
    return f"PAHT_DB_PASSWORD_{service.prefix}"


def common_source(cfg: Config, service: Service, name: str) -> Manifest | None:
    p = service.prefix
    if name == f"{p}_DATABASE_URL":
        # Composed from the ConfigMap and the Secret by Kubernetes ($(VAR) of variables defined before it); the
        # password must be URL-safe (openssl rand -hex 24).
        return literal(
            f"postgresql://{service.name}:$({password_variable(service)})@$(PAHT_PG_HOST):$(PAHT_PG_PORT)"
            "/$(PAHT_PG_DATABASE)?sslmode=$(PAHT_PG_SSLMODE)"
        )
    fixed = {
        f"{p}_KAFKA_BOOTSTRAP": config("kafka-bootstrap"),
        f"{p}_HTTP_HOST": literal("0.0.0.0"),  # noqa: S104 - a pod listens on its own interface
        f"{p}_HTTP_PORT": literal(str(service.http_port(cfg))),
        f"{p}_WORKER_HTTP_PORT": literal(str(WORKER_PORT)),
        f"{p}_AUTH_JWKS": config("auth-jwks"),
    }
    if name in fixed:
        return fixed[name]
    if name in API_URL_VARIABLES:
        target = find(API_URL_VARIABLES[name])
        return literal(f"http://{target.name}-api:{target.http_port(cfg)}")
    return SOURCES.get(name)


def environment(cfg: Config, service: Service) -> list[Manifest]:
    """The helpers DATABASE_URL is composed of (PAHT_*, ignored by the service's settings), then the declared
    variables, then the production-only ones."""
    env: list[Manifest] = [
        {"name": "PAHT_PG_HOST", **config("pg-host")},
        {"name": "PAHT_PG_PORT", **config("pg-port")},
        {"name": "PAHT_PG_DATABASE", **config("pg-database")},
        {"name": "PAHT_PG_SSLMODE", **config("pg-sslmode")},
        {"name": password_variable(service), **secret(service.name, "database-password")},
    ]
    declared = [name for name in service_env(cfg, service) if name not in DEVELOPMENT_ONLY_VARIABLES]
    for name in [*declared, *PRODUCTION_ONLY.get(service.name, ())]:
        source = common_source(cfg, service, name)
        if source is None:
            raise SystemExit(f"{name}: say where its value comes from in deploy/kubernetes/generate.py SOURCES")
        env.append({"name": name, **source})
    return env


def labels(process: Process) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": process.name,
        "app.kubernetes.io/component": process.kind,
        "app.kubernetes.io/part-of": "paht",
    }


def selector(process: Process) -> dict[str, str]:
    return {"app.kubernetes.io/name": process.name}


def round_up(mib: float, step: int = 32) -> int:
    return int(math.ceil(mib / step) * step)


def resources(process: Process) -> Manifest:
    rss = MEASURED_RSS_MIB[process.name]
    request = round_up(rss * 1.25)  # a quarter above the idle size: pools fill, caches warm
    limit = max(LIMIT_MIB.get(process.name, 0), round_up(request * 2, 64), 256)
    cpu_limit = CPU_LIMIT.get(process.name, "1")
    return {
        "requests": {"cpu": CPU_REQUEST[process.kind], "memory": f"{request}Mi"},
        "limits": {"cpu": cpu_limit, "memory": f"{limit}Mi"},
    }


def container_port(cfg: Config, process: Process) -> tuple[str, int]:
    if process.kind == "api":
        return "http", process.service.http_port(cfg)
    if process.name in PUBLIC_LISTENERS:
        return process.kind, PUBLIC_LISTENERS[process.name][1]
    if process.kind in WORKER_KINDS:
        return "health", WORKER_PORT
    raise SystemExit(f"{process.name}: no port to probe; say how it is probed in deploy/kubernetes/generate.py")


def probes(process: Process, port_name: str) -> Manifest:
    if process.kind == "api" or process.kind in WORKER_KINDS:
        # /healthz: the process is up (restart it if not); /readyz: its PostgreSQL/Kafka/S3 reachable, its loops
        # turning (take an api out of its Service meanwhile). A pod gets a minute to start.
        return {
            "startupProbe": {
                "httpGet": {"path": "/healthz", "port": port_name},
                "periodSeconds": 2,
                "failureThreshold": 30,
            },
            "livenessProbe": {
                "httpGet": {"path": "/healthz", "port": port_name},
                "periodSeconds": 10,
                "timeoutSeconds": 3,
                "failureThreshold": 3,
            },
            "readinessProbe": {
                "httpGet": {"path": "/readyz", "port": port_name},
                "periodSeconds": 5,
                "timeoutSeconds": 3,
                "failureThreshold": 2,
            },
        }
    # intake's SMTP listener has no HTTP endpoint: it is alive while it accepts connections.
    tcp = {"tcpSocket": {"port": port_name}}
    return {
        "startupProbe": {**tcp, "periodSeconds": 2, "failureThreshold": 30},
        "livenessProbe": {**tcp, "periodSeconds": 10, "failureThreshold": 3},
        "readinessProbe": {**tcp, "periodSeconds": 5, "failureThreshold": 2},
    }


def pod_security() -> Manifest:
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "fsGroup": UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security() -> Manifest:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def service_container(cfg: Config, service: Service, name: str, command: str) -> Manifest:
    return {
        "name": name,
        "image": f"paht-{service.name}:dev",
        "command": ["python", "-m", service.name, command],
        "env": environment(cfg, service),
        "securityContext": container_security(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - the pod's own emptyDir
    }


def is_scaled(process: Process) -> bool:
    """APIs and consumers scale horizontally; relays run two (they share the outbox), the SMTP listener one."""
    return process.kind in ("api", "consume", "worker")


def deployment(cfg: Config, process: Process) -> Manifest:
    port_name, port = container_port(cfg, process)
    container = service_container(cfg, process.service, process.kind, process.kind)
    container["ports"] = [{"name": port_name, "containerPort": port}]
    container.update(probes(process, port_name))
    container["resources"] = resources(process)
    spec: Manifest = {}
    if process.name in SINGLE:
        spec = {"replicas": 1, "strategy": {"type": "Recreate"}}
    elif not is_scaled(process):
        spec = {"replicas": 2}
    # an autoscaled Deployment has no replicas here: `kubectl apply` would undo what the autoscaler decided
    metadata: Manifest = {"labels": labels(process)}
    if port_name in ("http", "health"):  # /metrics beside /healthz
        metadata["annotations"] = {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(port),
            "prometheus.io/path": "/metrics",
        }
    spec.update(
        {
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector(process)},
            "template": {
                "metadata": metadata,
                "spec": {
                    "automountServiceAccountToken": False,  # no process talks to the Kubernetes API
                    "securityContext": pod_security(),
                    # consumers finish their batch on SIGTERM; a notify send may wait on the mail relay
                    "terminationGracePeriodSeconds": 60 if process.kind != "api" else 30,
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": selector(process)},
                        }
                    ],
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": TMP_SIZE.get(process.name, "256Mi")}}],
                },
            },
        }
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": process.name, "labels": labels(process)},
        "spec": spec,
    }


def service_object(cfg: Config, process: Process) -> Manifest:
    port_name, port = container_port(cfg, process)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": process.name, "labels": labels(process)},
        "spec": {
            "selector": selector(process),
            "ports": [{"name": port_name, "port": port, "targetPort": port_name}],
        },
    }


def autoscaler(cfg: Config, process: Process) -> Manifest:
    # A consumer beyond the topic's partition count would sit idle in its group: 6 partitions, at most 6 pods.
    maximum = cfg.kafka_partitions if process.kind != "api" else 6
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": process.name, "labels": labels(process)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": process.name},
            "minReplicas": 2,
            "maxReplicas": maximum,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                }
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
    }


def disruption_budget(process: Process) -> Manifest:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": process.name, "labels": labels(process)},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": selector(process)}},
    }


def service_manifests(cfg: Config, service: Service) -> Iterator[Manifest]:
    for process in declared_processes((service,)):
        if process.kind in DEVELOPMENT_ONLY_KINDS:
            continue
        yield deployment(cfg, process)
        if process.kind == "api" or process.name in PUBLIC_LISTENERS:
            yield service_object(cfg, process)
        if is_scaled(process):
            yield autoscaler(cfg, process)
        if process.kind == "api":
            yield disruption_budget(process)


def migrate_job(cfg: Config) -> Manifest:
    """Each service's migrations as its own role, in declaration order, then its one-shot set-up commands
    (routing's reference data): init containers run one after the other, the last step is the container."""
    steps = [
        service_container(cfg, service, f"{service.name}-{command}", command)
        for service in SERVICES
        for command in ("migrate", *service.setup)
    ]
    for step in steps:
        step["resources"] = {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "paht-migrate", "labels": {"app.kubernetes.io/name": "paht-migrate"}},
        "spec": {
            "backoffLimit": 4,
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "paht-migrate", "app.kubernetes.io/part-of": "paht"}},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security(),
                    "initContainers": steps[:-1],
                    "containers": steps[-1:],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
                },
            },
        },
    }


def config_map() -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CONFIG, "labels": {"app.kubernetes.io/part-of": "paht"}},
        "data": {key: value for key, (value, _) in CONFIG_KEYS.items()},
    }


def dump(documents: list[Manifest], header: str) -> str:
    body = "---\n".join(yaml.safe_dump(doc, sort_keys=False, width=120, allow_unicode=True) for doc in documents)
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.strip().splitlines())
    return comment + body


GENERATED = "Generated by deploy/kubernetes/generate.py from deploy/paht_devstack/services.py: do not edit, regenerate."


def memory_note() -> str:
    names = list(MEASURED_RSS_MIB)
    figures = ",\n".join(
        ", ".join(f"{name} {MEASURED_RSS_MIB[name]}" for name in names[i : i + 7]) for i in range(0, len(names), 7)
    )
    return (
        "Memory: requests are the resident size (ps -o rss) of each process of the running development stack, the\n"
        f"highest of four samples over a minute, idle, {MEASURED_ON}, plus a quarter; limits twice that, at least\n"
        f"256 MiB (media's api and worker more: uploads in flight, decoding). RSS in MiB:\n{figures}."
    )


def render(cfg: Config) -> dict[str, str]:
    files: dict[str, str] = {}
    for service in SERVICES:
        files[f"{service.name}.yaml"] = dump(
            list(service_manifests(cfg, service)),
            f"The {service.name} service: one Deployment per process kind, its Service, autoscaler and disruption\n"
            f"budget. {GENERATED}\n{memory_note()}",
        )
    files["migrate-job.yaml"] = dump(
        [migrate_job(cfg)],
        "Migrations (each service as its own role) and routing's reference data, before the Deployments start and\n"
        "after each upgrade: a Job cannot be changed, so `kubectl delete job paht-migrate` before applying a new\n"
        f"version. The roles, schemas, topics and bucket exist beforehand (deploy/kubernetes/README.md). {GENERATED}",
    )
    config_lines = "\n".join(f"{key}: {what}" for key, (_, what) in CONFIG_KEYS.items() if what)
    files["config.yaml"] = dump(
        [config_map()],
        "Where the external PostgreSQL, Kafka and S3 are, and the province's non-secret settings. The values here are\n"
        f"placeholders (.example): a province's overlay replaces them. {GENERATED}\n{config_lines}",
    )
    files["namespace.yaml"] = dump(
        [
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": "paht",
                    # every pod runs as uid 10001, without privileges or capabilities: the strictest profile fits
                    "labels": {
                        "pod-security.kubernetes.io/enforce": "restricted",
                        "pod-security.kubernetes.io/audit": "restricted",
                    },
                },
            }
        ],
        f"The namespace of the platform. {GENERATED}",
    )
    resources_list = ["namespace.yaml", "config.yaml", "migrate-job.yaml", *(f"{s.name}.yaml" for s in SERVICES)]
    files["kustomization.yaml"] = dump(
        [
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "namespace": "paht",
                "resources": resources_list,
                "images": [
                    {"name": f"paht-{s.name}", "newName": f"registry.province.example/paht-{s.name}", "newTag": "dev"}
                    for s in SERVICES
                ],
            }
        ],
        "The base: `kubectl apply -k deploy/kubernetes` after creating the Secrets (README.md here). A province\n"
        "keeps an overlay with its registry and tag (images), paht-config's values and its replica bounds.\n"
        + GENERATED,
    )
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a file differs from what would be written")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as infra:
        files = render(defaults(Path(infra)))
    if args.check:
        stale = [
            name
            for name, text in files.items()
            if not (HERE / name).is_file() or (HERE / name).read_text(encoding="utf-8") != text
        ]
        if stale:
            raise SystemExit(f"stale: {', '.join(stale)}; run python deploy/kubernetes/generate.py")
        return
    for name, text in files.items():
        (HERE / name).write_text(text, encoding="utf-8")
        print(f"wrote deploy/kubernetes/{name}")


if __name__ == "__main__":
    main()
