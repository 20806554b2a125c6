"""Make the servers ready for the services: database, roles, schemas, migrations, topics, bucket, reference data.

Idempotent: a second run changes nothing. `plan()` says what is needed, from the declaration of the services;
the other functions make it so.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from dataclasses import dataclass

from paht_devstack import s3
from paht_devstack.config import Config, say
from paht_devstack.keys import dev_secret
from paht_devstack.services import SERVICES, Service, find, http_ports, service_env, worker_ports
from paht_shared.contracts.topics import PLATFORM_TOPICS, with_dead_letters


@dataclass(frozen=True)
class Schema:
    """A service's own login role and schema; the role owns the schema and reads nothing else."""

    role: str
    password: str
    migrations: str  # the package whose `migrations/*.sql` are applied (paht_shared.migrations.service_migrations)


@dataclass(frozen=True)
class Plan:
    database: str
    schemas: tuple[Schema, ...]
    topics: tuple[str, ...]  # with their dead-letter topics
    bucket: str
    setup: tuple[tuple[str, str], ...]  # (service, command): `python -m <service> <command>` after the rest


def plan(cfg: Config, services: tuple[Service, ...] = SERVICES) -> Plan:
    topics = [*PLATFORM_TOPICS, *(t for service in services for t in service.topics(cfg))]
    return Plan(
        database=cfg.pg_database,
        schemas=tuple(Schema(s.name, cfg.role_password(s.name), s.name) for s in services),
        topics=tuple(dict.fromkeys(with_dead_letters(topics))),
        bucket=cfg.s3_bucket,
        setup=tuple((s.name, command) for s in services for command in s.setup),
    )


async def database(cfg: Config, schemas: tuple[Schema, ...]) -> None:
    import asyncpg

    from paht_shared.migrations import apply_migrations, service_migrations

    if not cfg.external_pg:
        # The embedded cluster starts with only the maintenance database.
        maintenance = await asyncpg.connect(cfg.admin_dsn.rsplit("/", 1)[0] + "/postgres")
        try:
            if not await maintenance.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", cfg.pg_database):
                await maintenance.execute(f'CREATE DATABASE "{cfg.pg_database}"')
        finally:
            await maintenance.close()
    conn = await asyncpg.connect(cfg.admin_dsn)
    try:
        # A 201 must mean committed to disk, whatever the server's own default (also fixes servers started by
        # older devstacks with synchronous_commit off, for every new session, without a restart).
        database_name = await conn.fetchval("SELECT current_database()")
        await conn.execute(f'ALTER DATABASE "{database_name}" SET synchronous_commit = on')
        await conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        for schema in schemas:
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", schema.role)
            verb = "ALTER" if exists else "CREATE"
            # identifiers cannot be parameters; role names are the declared service names
            password = schema.password.replace("'", "''")
            await conn.execute(f"{verb} ROLE {schema.role} LOGIN PASSWORD '{password}'")
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema.role} AUTHORIZATION {schema.role}")
            await conn.execute(f"ALTER ROLE {schema.role} SET search_path = {schema.role}")
            await conn.execute(f"REVOKE ALL ON SCHEMA {schema.role} FROM PUBLIC")
        fsync = await conn.fetchval("SHOW fsync")
    finally:
        await conn.close()
    wanted = "on" if cfg.pg_fsync else "off"
    if not cfg.external_pg and fsync != wanted:
        say(f"PostgreSQL: runs with fsync {fsync}; PAHT_PG_FSYNC={wanted} applies from its next start (make stop)")
    for schema in schemas:
        applied = await apply_migrations(cfg.role_dsn(schema.role), schema.role, service_migrations(schema.migrations))
        say(f"PostgreSQL: schema {schema.role}: {len(applied)} migration(s) applied {applied or ''}")


async def topics(cfg: Config, names: tuple[str, ...]) -> None:
    from paht_shared.kafka import ensure_topics

    created = await ensure_topics(cfg.kafka_bootstrap, list(names), cfg.kafka_partitions, cfg.kafka_replication)
    say(f"Kafka: {len(names)} topics present, {len(created)} created ({cfg.kafka_partitions} partitions each)")


def bucket(cfg: Config, name: str) -> None:
    client = s3.client(cfg)
    if client.bucket_exists(name):
        say(f"S3: bucket {name} present")
    else:
        client.make_bucket(name)
        say(f"S3: bucket {name} created")


def setup_commands(cfg: Config, commands: tuple[tuple[str, str], ...], services: tuple[Service, ...]) -> None:
    """Each service's one-shot commands (routing's reference data), with that service's environment."""
    for service, command in commands:
        subprocess.run(
            [sys.executable, "-m", service, command],
            env={**cfg.environ, **service_env(cfg, find(service, services))},
            check=True,
        )


DEV_ADMIN = "admin"


def dev_admin(cfg: Config, services: tuple[Service, ...]) -> None:
    """The first admin account of the development stack (nobody can create one over HTTP without an admin's
    token); its password is `admin_password` in <infra>/secrets.json. Already there: nothing to do."""
    if not any(s.name == "routing" for s in services):
        return
    result = subprocess.run(
        [sys.executable, "-m", "routing", "create-staff", "--username", DEV_ADMIN, "--role", "admin",
         "--display-name", "Quản trị hệ thống (phát triển)"],
        env={**cfg.environ, **service_env(cfg, find("routing", services)),
             "PAHT_STAFF_PASSWORD": dev_secret(cfg, "admin_password")},
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    if result.returncode != 0 and "username_taken" not in result.stderr:
        raise RuntimeError(f"creating the development admin failed: {result.stderr.strip()[-500:]}")
    say(f"routing: admin account {DEV_ADMIN!r} present (password: admin_password in {cfg.infra / 'secrets.json'})")


def write_stack_file(cfg: Config, services: tuple[Service, ...] = SERVICES) -> None:
    """<infra>/stack.json: where everything is, for the test suite's plugin (paht_shared.testing) and tools."""
    (cfg.infra / "stack.json").write_text(
        json.dumps(
            {
                "admin_dsn": cfg.admin_dsn,
                "kafka_bootstrap": cfg.kafka_bootstrap,
                "s3_endpoint": cfg.s3_endpoint,
                "s3_access_key": cfg.s3_access_key,
                "s3_secret_key": cfg.s3_secret_key,
                "s3_bucket": cfg.s3_bucket,
                "services": {s.name: service_env(cfg, s) for s in services},
                "http_ports": http_ports(cfg, services),
                "worker_ports": worker_ports(cfg, services),
                "mail_dir": str(cfg.mail_dir),
            },
            indent=2,
        )
    )


def run(cfg: Config, services: tuple[Service, ...] = SERVICES) -> None:
    wanted = plan(cfg, services)
    asyncio.run(database(cfg, wanted.schemas))
    asyncio.run(topics(cfg, wanted.topics))
    bucket(cfg, wanted.bucket)
    setup_commands(cfg, wanted.setup, services)
    dev_admin(cfg, services)
    write_stack_file(cfg, services)
