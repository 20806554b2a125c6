"""Where things are and which ports they use: read once from the environment, then passed down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parents[2]
KAFKA_CLUSTER_ID = "5L6g3nShT-eMCtK--X86sw"  # the Apache image's default; one fixed id keeps re-formats identical


def say(msg: str) -> None:
    print(f"[devstack] {msg}", flush=True)


def fail(msg: str) -> SystemExit:
    """The exception that ends a command with `msg` on stderr and exit status 1."""
    return SystemExit(f"[devstack] {msg}")


def _on_off(name: str, value: str) -> bool:
    if value not in ("on", "off"):
        raise fail(f"{name} must be 'on' or 'off', not {value!r}")
    return value == "on"


@dataclass(frozen=True)
class KafkaNode:
    name: str  # its process name (pid file, log)
    node_id: int
    port: int
    controller_port: int


@dataclass(frozen=True)
class Config:
    """Everything devstack reads from the environment; the README's configuration table lists the variables."""

    environ: Mapping[str, str]  # the caller's environment: <SERVICE>_* values in it override what devstack sets
    infra: Path
    pg_port: int
    pg_database: str
    pg_admin_password: str
    pg_fsync: bool  # fsync and full_page_writes; synchronous_commit is always on
    kafka_port: int
    kafka_controller_port: int
    kafka_partitions: int
    kafka_replication: int
    kafka_brokers: int  # 1 for development; 3 is a local KRaft cluster (the chaos run's large size)
    s3_port: int
    s3_master_port: int
    s3_volume_port: int
    s3_filer_port: int
    s3_access_key: str
    s3_secret_key: str
    s3_bucket: str
    smtp_sink_port: int
    gateway_port: int  # the development SMS gateway / push webhook recorder (python -m notify gateway)
    worker_port_base: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        env = dict(os.environ if environ is None else environ)

        def get(name: str, default: str) -> str:
            return env.get(name) or default

        return cls(
            environ=env,
            infra=Path(get("PAHT_INFRA_DIR", str(ROOT / ".infra"))).resolve(),
            pg_port=int(get("PAHT_PG_PORT", "5432")),
            pg_database=get("PAHT_PG_DATABASE", "paht"),
            pg_admin_password=get("PAHT_PG_ADMIN_PASSWORD", "paht-admin-dev"),
            pg_fsync=_on_off("PAHT_PG_FSYNC", get("PAHT_PG_FSYNC", "on")),
            kafka_port=int(get("PAHT_KAFKA_PORT", "9092")),
            kafka_controller_port=int(get("PAHT_KAFKA_CONTROLLER_PORT", "9093")),
            kafka_partitions=int(get("PAHT_KAFKA_PARTITIONS", "6")),
            # 3 on a production cluster, and on the local one: topics must survive a broker's death
            kafka_replication=int(
                get("PAHT_KAFKA_REPLICATION", "3" if int(get("PAHT_KAFKA_BROKERS", "1")) >= 3 else "1")
            ),
            kafka_brokers=int(get("PAHT_KAFKA_BROKERS", "1")),
            s3_port=int(get("PAHT_S3_PORT", "8333")),
            s3_master_port=int(get("PAHT_S3_MASTER_PORT", "9333")),
            s3_volume_port=int(get("PAHT_S3_VOLUME_PORT", "8090")),
            s3_filer_port=int(get("PAHT_S3_FILER_PORT", "8888")),
            s3_access_key=get("PAHT_S3_ACCESS_KEY", "paht-dev-access"),
            s3_secret_key=get("PAHT_S3_SECRET_KEY", "paht-dev-secret-key"),
            s3_bucket=get("PAHT_S3_BUCKET", "paht-media"),
            smtp_sink_port=int(get("PAHT_SMTP_SINK_PORT", "2526")),
            gateway_port=int(get("PAHT_GATEWAY_PORT", "2527")),
            worker_port_base=int(get("PAHT_WORKER_PORT_BASE", "9201")),
        )

    # ------------------------------------------------------------ folders

    @property
    def run_dir(self) -> Path:
        return self.infra / "run"

    @property
    def logs(self) -> Path:
        return self.infra / "logs"

    @property
    def mail_dir(self) -> Path:
        return self.infra / "mail"

    # ------------------------------------------------------------ servers: embedded unless a variable names one

    @property
    def external_pg(self) -> bool:
        return bool(self.environ.get("PAHT_PG_ADMIN_DSN"))

    @property
    def external_kafka(self) -> bool:
        return bool(self.environ.get("PAHT_KAFKA_BOOTSTRAP"))

    @property
    def external_s3(self) -> bool:
        return bool(self.environ.get("PAHT_S3_ENDPOINT"))

    @property
    def admin_dsn(self) -> str:
        return self.environ.get("PAHT_PG_ADMIN_DSN") or (
            f"postgresql://postgres:{quote(self.pg_admin_password)}@127.0.0.1:{self.pg_port}/{self.pg_database}"
        )

    @property
    def kafka_nodes(self) -> list[KafkaNode]:
        """The embedded brokers: one named `kafka`, or a cluster `kafka-1`.. on ports 10 apart."""
        if self.kafka_brokers == 1:
            return [KafkaNode("kafka", 1, self.kafka_port, self.kafka_controller_port)]
        return [
            KafkaNode(f"kafka-{n}", n, self.kafka_port + 10 * (n - 1), self.kafka_controller_port + 10 * (n - 1))
            for n in range(1, self.kafka_brokers + 1)
        ]

    @property
    def kafka_bootstrap(self) -> str:
        return self.environ.get("PAHT_KAFKA_BOOTSTRAP") or ",".join(f"127.0.0.1:{n.port}" for n in self.kafka_nodes)

    @property
    def s3_endpoint(self) -> str:
        return self.environ.get("PAHT_S3_ENDPOINT") or f"127.0.0.1:{self.s3_port}"

    def role_password(self, role: str) -> str:
        return self.environ.get(f"PAHT_DB_PASSWORD_{role.upper()}") or f"paht-{role}-dev"

    def role_dsn(self, role: str) -> str:
        """The admin DSN's server and database, logged in as `role`."""
        parts = urlsplit(self.admin_dsn)
        host = parts.hostname or "127.0.0.1"
        port = parts.port or 5432
        return f"postgresql://{role}:{quote(self.role_password(role))}@{host}:{port}{parts.path}"
