"""devstack's declaration of the services and its process handling, without touching the running stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from paht_devstack import bootstrap, keys, postgres, processes
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
