"""devstack's declaration of the services and its process handling, without touching the running stack."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from paht_devstack import bootstrap, kafka, keys, postgres, processes
from paht_devstack.cli import kafka_names
from paht_devstack.compose import expected_containers
from paht_devstack.config import Config
from paht_devstack.services import (
    SERVICES,
    Service,
    declared_processes,
    find,
    http_ports,
    service_env,
    worker_ports,
)
from paht_shared.contracts.topics import PLATFORM_TOPICS, agency_inbox, dlq
from paht_shared.migrations import service_migrations

ROOT = Path(__file__).resolve().parent.parent
# The next service, declared the way the README says: one entry.
PORTAL = Service("portal", 8080)
WITH_PORTAL = (*SERVICES, PORTAL)


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    """devstack's configuration with no variables set, its infra folder (dev keys, pid files) in tmp_path."""
    return Config.from_env({"PAHT_INFRA_DIR": str(tmp_path)})


def test_a_declared_service_gets_processes_port_and_environment(cfg: Config) -> None:
    """One Service entry gives the portal its process, its HTTP port, its variables and its own database role."""
    assert [p.name for p in declared_processes(WITH_PORTAL)][-1] == "portal-api"
    assert http_ports(cfg, WITH_PORTAL)["portal"] == 8080
    env = service_env(cfg, PORTAL)
    assert env == {
        "PORTAL_DATABASE_URL": "postgresql://portal:paht-portal-dev@127.0.0.1:5432/paht",
        "PORTAL_KAFKA_BOOTSTRAP": "127.0.0.1:9092",
        "PORTAL_HTTP_HOST": "127.0.0.1",
        "PORTAL_HTTP_PORT": "8080",
        "PORTAL_AUTH_JWKS": env["PORTAL_AUTH_JWKS"],  # checked below
    }
    assert json.loads(env["PORTAL_AUTH_JWKS"])["keys"][0]["crv"] == "Ed25519"  # staff tokens verify there too
    assert '"d"' not in env["PORTAL_AUTH_JWKS"]  # the public half only, never the signing key
    moved = Config.from_env({"PAHT_INFRA_DIR": str(cfg.infra), "PAHT_PORTAL_PORT": "8090", "PORTAL_X": "y"})
    assert service_env(moved, PORTAL)["PORTAL_HTTP_PORT"] == "8090"
    assert service_env(moved, PORTAL)["PORTAL_X"] == "y"  # the caller's own <NAME>_* values pass through


def test_a_declared_service_gets_its_role_schema_and_containers(cfg: Config) -> None:
    """The bootstrap plan makes the portal's role and schema; compose must have a portal-api container."""
    plan = bootstrap.plan(cfg, WITH_PORTAL)
    assert bootstrap.Schema("portal", "paht-portal-dev", "portal") in plan.schemas
    container = expected_containers(cfg, WITH_PORTAL)["portal-api"]
    assert container.command == ("python", "-m", "portal", "api")
    assert container.dockerfile == "services/portal/Dockerfile"
    assert container.published == {8080: 8080}
    assert container.variables == set(service_env(cfg, PORTAL))


def test_workers_of_a_new_service_get_the_next_ports(cfg: Config) -> None:
    """Relay/consume processes of a service appended to the declaration take the ports after the others'."""
    worker = Service("export", 8090, ("api", "relay"))
    before = worker_ports(cfg)
    after = worker_ports(cfg, (*SERVICES, worker))
    assert after == {**before, "export-relay": max(before.values()) + 1}
    assert service_env(cfg, worker)["EXPORT_WORKER_HTTP_PORT"] == "0"  # services-up sets the real one


def test_ports_are_those_the_readme_documents(cfg: Config) -> None:
    """HTTP 8080-8084 and workers 9201-9208 in the documented order: intake, routing, notify (relay, consume), media."""
    assert http_ports(cfg) == {"intake": 8081, "media": 8082, "routing": 8083, "notify": 8084, "portal": 8080}
    assert list(worker_ports(cfg).items()) == [
        ("intake-relay", 9201),
        ("intake-consume", 9202),
        ("routing-relay", 9203),
        ("routing-consume", 9204),
        ("notify-relay", 9205),
        ("notify-consume", 9206),
        ("media-relay", 9207),
        ("media-worker", 9208),
    ]


def test_bootstrap_topics_are_the_platform_s_and_every_agency_inbox_with_dead_letters(cfg: Config) -> None:
    """Topics come from the contracts module and routing's agencies, each with its .dlq, each once."""
    topics = bootstrap.plan(cfg).topics
    assert len(topics) == len(set(topics))
    for topic in (*PLATFORM_TOPICS, agency_inbox("VP-UBND"), agency_inbox("SXD")):
        assert topic in topics
        assert dlq(topic) in topics
    assert bootstrap.plan(cfg).setup == (("routing", "load-reference"),)


def test_dev_keys_are_made_once_and_a_new_one_joins_the_file(cfg: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys survive later runs (data encrypted with them stays readable); a key added later is generated alone."""
    first = keys.dev_secret(cfg, "pii_keys")
    assert first.startswith("k1:")
    assert keys.dev_secret(cfg, "pii_keys") == first
    monkeypatch.setitem(keys.GENERATORS, "signing_key", lambda: "new")
    assert keys.dev_secret(cfg, "signing_key") == "new"
    stored = json.loads((cfg.infra / "secrets.json").read_text())
    assert stored["pii_keys"] == first
    assert (cfg.infra / "secrets.json").stat().st_mode & 0o777 == 0o600


def test_postgres_always_commits_synchronously(cfg: Config) -> None:
    """synchronous_commit=on is on the command line whatever PAHT_PG_FSYNC says; fsync follows the variable."""

    def settings(config: Config) -> dict[str, str]:
        options = postgres.server_options(config)
        return dict(options[i + 1].partition("=")[::2] for i, flag in enumerate(options) if flag == "-c")

    default = settings(cfg)
    assert (default["synchronous_commit"], default["fsync"], default["full_page_writes"]) == ("on", "on", "on")
    fast = settings(Config.from_env({"PAHT_INFRA_DIR": str(cfg.infra), "PAHT_PG_FSYNC": "off"}))
    assert (fast["synchronous_commit"], fast["fsync"], fast["full_page_writes"]) == ("on", "off", "off")
    with pytest.raises(SystemExit, match="PAHT_PG_FSYNC"):
        Config.from_env({"PAHT_PG_FSYNC": "false"})


def test_kill_waits_until_the_process_is_gone(cfg: Config, capsys: pytest.CaptureFixture[str]) -> None:
    """kill NAME sends SIGKILL, returns once the process is dead (a zombie here: it is our child), says its pid."""
    pid = processes.spawn(cfg, "sleeper", ["sleep", "60"], {})
    assert processes.running_pid(cfg, "sleeper") == pid
    assert processes.kill(cfg, "sleeper") == pid
    assert processes.running_pid(cfg, "sleeper") is None
    assert f"killed sleeper (pid {pid})" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="kill sleeper: not running"):
        processes.kill(cfg, "sleeper")


def test_kill_fails_when_the_process_outlives_the_bound(cfg: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process still there after SIGKILL (stuck in the kernel) is an error, not a silent success."""
    pid = processes.spawn(cfg, "sleeper", ["sleep", "60"], {})
    monkeypatch.setattr(processes, "_alive", lambda pid, started: True)
    try:
        with pytest.raises(SystemExit, match=f"pid {pid} is still running"):
            processes.kill(cfg, "sleeper", timeout=0.3)
    finally:
        monkeypatch.undo()
        processes.stop(cfg, "sleeper")


def test_a_recycled_pid_is_not_ours(cfg: Config) -> None:
    """A pid file whose pid now belongs to another process (other start time) counts as not running."""
    cfg.run_dir.mkdir(parents=True)
    processes.pid_file(cfg, "ghost").write_text(f"{os.getpid()} 1")
    assert processes.running_pid(cfg, "ghost") is None
    with pytest.raises(SystemExit, match="not running"):
        processes.kill(cfg, "ghost")


def test_kill_command_without_a_pid_file_fails_clearly(tmp_path: Path) -> None:
    """`devstack.py kill NAME` for something devstack did not start exits non-zero and says why."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy/devstack.py"), "kill", "intake-relay"],
        env={**os.environ, "PAHT_INFRA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "kill intake-relay: not running (no pid file" in result.stderr


def test_every_declared_service_is_a_package_with_migrations() -> None:
    """Each declaration names an installed package (`python -m <name>`) that ships its migrations."""
    for service in SERVICES:
        assert find(service.name) is service
        assert any(f.name.endswith(".sql") for f in service_migrations(service.name).iterdir()), service.name


def test_a_local_cluster_is_three_nodes_ten_ports_apart_replicating_every_topic(tmp_path: Path) -> None:
    """PAHT_KAFKA_BROKERS=3 (the chaos run's cluster): three KRaft nodes that know each other as voters, every
    topic and internal topic on three brokers, a write acknowledged only once two have it."""
    cfg = Config.from_env({"PAHT_INFRA_DIR": str(tmp_path), "PAHT_KAFKA_BROKERS": "3"})
    nodes = cfg.kafka_nodes
    assert [(n.name, n.node_id, n.port, n.controller_port) for n in nodes] == [
        ("kafka-1", 1, 9092, 9093),
        ("kafka-2", 2, 9102, 9103),
        ("kafka-3", 3, 9112, 9113),
    ]
    assert cfg.kafka_bootstrap == "127.0.0.1:9092,127.0.0.1:9102,127.0.0.1:9112"
    assert cfg.kafka_replication == 3
    text = kafka.server_properties(
        cfg, nodes[1], kafka.voters(nodes), tmp_path, cfg.kafka_replication, kafka.min_isr(nodes)
    )
    assert not re.findall(r"@[A-Z_]+@", text)  # every placeholder filled
    props = dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert props["node.id"] == "2"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9093,2@127.0.0.1:9103,3@127.0.0.1:9113"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9102,CONTROLLER://127.0.0.1:9103"
    for key in ("default.replication.factor", "offsets.topic.replication.factor"):
        assert props[key] == "3", key
    for key in ("min.insync.replicas", "transaction.state.log.min.isr"):
        assert props[key] == "2", key


def test_the_development_broker_is_one_node_replicating_nothing(cfg: Config) -> None:
    (node,) = cfg.kafka_nodes
    assert (node.name, node.port, cfg.kafka_bootstrap, cfg.kafka_replication) == ("kafka", 9092, "127.0.0.1:9092", 1)
    props = kafka.server_properties(cfg, node, kafka.voters([node]), Path("/data"), 1, kafka.min_isr([node]))
    assert "controller.quorum.voters=1@127.0.0.1:9093\n" in props
    assert "min.insync.replicas=1\n" in props


def test_stop_finds_every_broker_whichever_size_started_it(cfg: Config) -> None:
    """A plain `make stop` (one broker configured) also stops a cluster that `make chaos` left running."""
    cfg.run_dir.mkdir(parents=True)
    for name in ("kafka-1", "kafka-2", "kafka-3"):
        (cfg.run_dir / f"{name}.pid").write_text("1 0")
    assert kafka_names(cfg) == ["kafka", "kafka-1", "kafka-2", "kafka-3"]
