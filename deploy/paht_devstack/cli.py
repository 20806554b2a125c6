"""Commands of `python deploy/devstack.py` (or `python -m paht_devstack` with deploy/ on the path)."""

from __future__ import annotations

import argparse
import functools
import sys
from urllib.parse import urlsplit

from paht_devstack import bootstrap, kafka, postgres, processes, s3
from paht_devstack.config import Config, say
from paht_devstack.keys import dev_secret
from paht_devstack.services import SERVICES, declared_processes, find, http_ports, service_env, worker_ports
from paht_shared.auth import Role, mint_token

DESCRIPTION = """\
Start, bootstrap and stop the PAHT development stack without Docker. Each server is embedded unless its
variable points at an external one: PAHT_PG_ADMIN_DSN, PAHT_KAFKA_BOOTSTRAP, PAHT_S3_ENDPOINT (devstack then
only bootstraps it). Everything embedded runs on 127.0.0.1."""


def infra(cfg: Config) -> None:
    cfg.logs.mkdir(parents=True, exist_ok=True)
    postgres.start(cfg)
    s3.start(cfg)
    kafka.start(cfg)
    bootstrap.run(cfg)
    say("infrastructure ready")


def services_up(cfg: Config) -> None:
    started = []
    ports = worker_ports(cfg)
    for process in declared_processes():
        if processes.running_pid(cfg, process.name):
            continue
        service = process.service
        if process.kind == "api":
            processes.require_free(service.http_port(cfg), f"{service.name} HTTP", service.port_variable)
        process_env = service_env(cfg, service)
        if process.name in ports:
            processes.require_free(ports[process.name], f"{process.name} HTTP", "PAHT_WORKER_PORT_BASE")
            process_env[f"{service.prefix}_WORKER_HTTP_PORT"] = str(ports[process.name])
        processes.spawn(cfg, process.name, [sys.executable, *process.python_args], process_env)
        started.append(process.name)
    say(f"started {', '.join(started) if started else 'nothing (all running)'}")
    for name, port in http_ports(cfg).items():
        check = functools.partial(processes.http_ok, f"http://127.0.0.1:{port}/readyz")
        processes.wait_for(f"{name} /readyz", check, 60, cfg.logs / f"{name}-api.log")
    print("\nPAHT is running:")
    for name, port in http_ports(cfg).items():
        print(f"  {name:<8} http://127.0.0.1:{port}   (/healthz /readyz /metrics)")
    print(f"  workers  (/healthz /readyz /metrics) {', '.join(f'{n} {p}' for n, p in ports.items())}")
    print(f"  kafka    {cfg.kafka_bootstrap}")
    print(f"  s3       http://{cfg.s3_endpoint}  bucket {cfg.s3_bucket}")
    dsn = urlsplit(cfg.admin_dsn)
    print(f"  postgres {dsn.hostname}:{dsn.port}{dsn.path}")
    print(f"  smtp sink 127.0.0.1:{cfg.smtp_sink_port} -> {cfg.mail_dir}")
    print(f"  sms/push  http://127.0.0.1:{cfg.gateway_port}/sms|push -> {cfg.infra / 'gateway'} (development recorder)")
    print(f"  logs     {cfg.logs}\n  stop with: make stop", flush=True)


def services_down(cfg: Config) -> None:
    for process in reversed(list(declared_processes())):
        processes.stop(cfg, process.name)


def down(cfg: Config) -> None:
    services_down(cfg)
    for name in kafka_names(cfg):
        processes.stop(cfg, name, timeout=30)
    processes.stop(cfg, "s3")
    postgres.stop(cfg)


def kafka_names(cfg: Config) -> list[str]:
    """Every embedded broker, whichever size started it (a cluster is stopped by a plain `make stop` too)."""
    started = sorted(p.stem for p in cfg.run_dir.glob("kafka*.pid")) if cfg.run_dir.exists() else []
    return list(dict.fromkeys([*(n.name for n in cfg.kafka_nodes), *started]))


def status(cfg: Config) -> None:
    for name in [*(p.name for p in declared_processes()), *kafka_names(cfg), "s3"]:
        pid = processes.running_pid(cfg, name)
        print(f"{name:<16} {f'running pid {pid}' if pid else 'stopped'}")
    print(f"{'postgres':<16} {'running' if postgres.running(cfg) else 'stopped'}")


def print_env(cfg: Config, service: str) -> None:
    for key, value in sorted(service_env(cfg, find(service)).items()):
        print(f"{key}={value}")


def stop_one(cfg: Config, name: str) -> None:
    if processes.running_pid(cfg, name) is None:
        say(f"{name}: not running")
        return
    processes.stop(cfg, name)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="devstack", description=DESCRIPTION)
    commands = root.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("infra", help="PostgreSQL, Kafka and S3, then bootstrap (reuses what runs)")
    commands.add_parser("up", help="infra, then every service process")
    commands.add_parser("services-up", help="start the service processes that are not running")
    commands.add_parser("services-down", help="stop the service processes")
    commands.add_parser("down", help="stop the service processes and the embedded servers")
    commands.add_parser("status", help="what runs (the default command)")
    env = commands.add_parser("env", help="the environment a service's processes get")
    env.add_argument("service", choices=[s.name for s in SERVICES])
    broker = commands.add_parser("broker", help="a throwaway Kafka broker of its own (failure tests)")
    broker.add_argument("name")
    broker.add_argument("port", type=int)
    broker.add_argument("controller_port", type=int)
    token = commands.add_parser("token", help="a short-lived staff token signed with the development key")
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument("--agency", help="the officer's agency code")
    token.add_argument("--sub", default="dev", help="who the token is for")
    token.add_argument("--ttl", type=int, default=900, help="seconds")
    kill = commands.add_parser("kill", help="SIGKILL a process devstack started, wait until it is gone")
    kill.add_argument("name")
    stop = commands.add_parser("stop", help="stop one process devstack started")
    stop.add_argument("name")
    return root


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    cfg = Config.from_env()
    match args.command:
        case "infra":
            infra(cfg)
        case "up":
            infra(cfg)
            services_up(cfg)
        case "services-up":
            services_up(cfg)
        case "services-down":
            services_down(cfg)
        case "down":
            down(cfg)
        case "status" | None:
            status(cfg)
        case "env":
            print_env(cfg, args.service)
        case "broker":
            kafka.run_broker(cfg, args.name, args.port, args.controller_port, cfg.infra / args.name, heap="256m")
        case "token":
            signing_key = dev_secret(cfg, "auth_signing_key")
            print(mint_token(signing_key, args.sub, Role(args.role), args.agency, ttl_seconds=args.ttl))
        case "kill":
            processes.kill(cfg, args.name)
        case "stop":
            stop_one(cfg, args.name)
