"""The running platform as devstack started it: its processes (pid files), servers, ports and health."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy"))

from paht_devstack import kafka, postgres, processes, s3  # noqa: E402 - deploy/ is not an installed package
from paht_devstack.config import Config, KafkaNode  # noqa: E402 - same
from paht_devstack.services import declared_processes, http_ports, worker_ports  # noqa: E402 - same

DEVSTACK_LOG = "chaos-devstack.log"


@dataclass(frozen=True)
class Stack:
    cfg: Config
    admin_dsn: str
    bootstrap: str
    mail_dir: Path
    apis: dict[str, int]  # service -> HTTP port
    workers: dict[str, int]  # process name -> health port

    @classmethod
    def load(cls) -> Stack:
        cfg = Config.from_env()
        stack: dict[str, Any] = json.loads((cfg.infra / "stack.json").read_text())
        return cls(
            cfg=cfg,
            admin_dsn=stack["admin_dsn"],
            bootstrap=stack["kafka_bootstrap"],
            mail_dir=Path(stack["mail_dir"]),
            apis=http_ports(cfg),
            workers=worker_ports(cfg),
        )

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.apis[service]}"

    # ------------------------------------------------------------------ processes

    def pid(self, name: str) -> int | None:
        return processes.running_pid(self.cfg, name)

    def service_pids(self) -> dict[str, int | None]:
        return {p.name: self.pid(p.name) for p in declared_processes()}

    def kill(self, name: str) -> int:
        """SIGKILL and return once /proc says the pid is gone (devstack fails loudly otherwise)."""
        return processes.kill(self.cfg, name)

    async def services_up(self) -> None:
        """Start the service processes that are not running and wait until every API is ready (as a supervisor
        would restart a crashed container)."""
        await asyncio.to_thread(self._devstack, "services-up")

    def _devstack(self, *args: str) -> None:
        with (self.cfg.logs / DEVSTACK_LOG).open("ab") as log:
            subprocess.run(  # noqa: S603 - our own interpreter and script, fixed arguments
                [sys.executable, str(ROOT / "deploy/devstack.py"), *args],
                cwd=ROOT,
                check=True,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PAHT_PG_FSYNC": self.pg_fsync_setting()},
            )

    def services_down(self) -> None:
        self._devstack("services-down")

    # ------------------------------------------------------------------ servers

    @property
    def kafka_nodes(self) -> list[KafkaNode]:
        return self.cfg.kafka_nodes

    def kafka_port_open(self) -> bool:
        """Any broker still listening."""
        return any(processes.port_open(n.port) for n in self.kafka_nodes)

    def stop_kafka(self) -> list[int]:
        """SIGTERM every broker (a clean shutdown, SIGKILL only after 30 s); returns their pids."""
        pids = self._kafka_pids()
        for node in self.kafka_nodes:
            processes.stop(self.cfg, node.name, timeout=30)
        return pids

    def kill_kafka(self) -> list[int]:
        """SIGKILL every broker; returns their pids."""
        return [processes.kill(self.cfg, node.name) for node in self.kafka_nodes]

    def kill_broker(self, node: KafkaNode) -> int:
        return processes.kill(self.cfg, node.name)

    def _kafka_pids(self) -> list[int]:
        pids = {n.name: self.pid(n.name) for n in self.kafka_nodes}
        if None in pids.values():
            raise RuntimeError(f"a broker is not running: {pids}")
        return [p for p in pids.values() if p is not None]

    def start_kafka(self) -> None:
        """Start the brokers that are not running."""
        kafka.start(self.cfg)

    def pg_fsync_setting(self) -> str:
        """What the server was last started with (postmaster.opts), so a restart keeps it: `make test` runs it
        with fsync off, `make run` with fsync on."""
        try:
            opts = (postgres.data_dir(self.cfg) / "postmaster.opts").read_text()
        except OSError:
            return os.environ.get("PAHT_PG_FSYNC", "on")
        return "off" if "fsync=off" in opts else "on"

    def _cfg_for_restart(self) -> Config:
        return Config.from_env({**os.environ, "PAHT_PG_FSYNC": self.pg_fsync_setting()})

    def stop_postgres(self, mode: str) -> None:
        postgres.stop(self.cfg, mode)

    def start_postgres(self) -> None:
        postgres.start(self._cfg_for_restart())

    def pg_port_open(self) -> bool:
        return processes.port_open(self.cfg.pg_port)

    def s3_port_open(self) -> bool:
        return processes.port_open(self.cfg.s3_port)

    def stop_s3(self) -> int:
        pid = self.pid("s3")
        if pid is None:
            raise RuntimeError("s3 is not running")
        processes.stop(self.cfg, "s3")
        return pid

    def start_s3(self) -> None:
        s3.start(self.cfg)

    def stop_everything(self) -> None:
        """What `make stop` does: the service processes, then Kafka, S3 and PostgreSQL."""
        self._devstack("down")

    def start_servers(self) -> None:
        cfg = self._cfg_for_restart()
        postgres.start(cfg)
        s3.start(cfg)
        kafka.start(cfg)

    # ------------------------------------------------------------------ health

    async def unready(self, http: aiohttp.ClientSession) -> list[str]:
        """The APIs and worker processes whose /readyz does not answer 200 (empty: all healthy)."""
        targets = {**{f"{n}-api": p for n, p in self.apis.items()}, **self.workers}

        async def check(port: int) -> bool:
            try:
                async with http.get(f"http://127.0.0.1:{port}/readyz", timeout=aiohttp.ClientTimeout(total=2)) as r:
                    return r.status == 200
            except (aiohttp.ClientError, TimeoutError):
                return False

        results = await asyncio.gather(*(check(p) for p in targets.values()))
        return [name for name, ok in zip(targets, results, strict=True) if not ok]

    async def wait_ready(self, http: aiohttp.ClientSession, limit: float) -> float:
        """Seconds until every /readyz answers 200; raises TimeoutError naming the ones that never did."""
        began = time.monotonic()
        missing: list[str] = []
        while time.monotonic() - began < limit:
            missing = await self.unready(http)
            if not missing:
                return time.monotonic() - began
            await asyncio.sleep(0.25)
        raise TimeoutError(f"not ready after {limit:.0f} s: {', '.join(missing)}")


def tcp_ports_to(pid: int, remote_port: int) -> set[int]:
    """The local ports of `pid`'s TCP connections to `remote_port` on loopback (from /proc): which PostgreSQL
    backends (pg_stat_activity.client_port) belong to this process."""
    inodes: set[str] = set()
    with os.scandir(f"/proc/{pid}/fd") as fds:
        for fd in fds:
            try:
                target = os.readlink(fd.path)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports: set[int] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if inode in inodes and int(remote.rsplit(":", 1)[1], 16) == remote_port:
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def port_open(port: int) -> bool:
    return processes.port_open(port)
