"""Processes devstack starts: pid files, spawning, stopping, killing (and checking the victim died), ports."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.request import urlopen

from paht_devstack.config import ROOT, Config, fail, say


def pid_file(cfg: Config, name: str) -> Path:
    return cfg.run_dir / f"{name}.pid"


def _stat(pid: int) -> tuple[str, str] | None:
    """(state, start time) of a process from /proc, or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may contain spaces: count fields after the last ')'.
    fields = stat.rpartition(")")[2].split()
    return fields[0], fields[19]


def _alive(pid: int, started: str | None) -> bool:
    """Running, and the process we started: a zombie is dead, and a recycled pid has another start time."""
    stat = _stat(pid)
    if stat is None or stat[0] == "Z":
        return False
    return started is None or stat[1] == started


def _read_pid_file(path: Path) -> tuple[int, str | None] | None:
    """The pid and start time saved by spawn(); files of older devstacks hold only the pid."""
    try:
        parts = path.read_text().split()
        return int(parts[0]), (parts[1] if len(parts) > 1 else None)
    except (OSError, ValueError, IndexError):
        return None


def running_pid(cfg: Config, name: str) -> int | None:
    """The pid of `name` if devstack started it and it still runs; a stale pid file is removed."""
    path = pid_file(cfg, name)
    saved = _read_pid_file(path)
    if saved is None:
        return None
    pid, started = saved
    if not _alive(pid, started):
        path.unlink(missing_ok=True)
        return None
    return pid


def spawn(cfg: Config, name: str, argv: list[str], extra_env: dict[str, str], cwd: Path = ROOT) -> int:
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    cfg.logs.mkdir(parents=True, exist_ok=True)
    with (cfg.logs / f"{name}.log").open("ab") as log:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**cfg.environ, **extra_env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # survives `make run` returning; stopped by its saved pid
        )
    stat = _stat(proc.pid)
    pid_file(cfg, name).write_text(f"{proc.pid} {stat[1] if stat else ''}".strip())
    return proc.pid


def _wait_gone(pid: int, started: str | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid, started):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def stop(cfg: Config, name: str, timeout: float = 15.0) -> None:
    """SIGTERM (a clean shutdown), SIGKILL after `timeout`; nothing to do when `name` is not running."""
    saved = _read_pid_file(pid_file(cfg, name))
    if saved is None or running_pid(cfg, name) is None:
        return
    pid, started = saved
    os.kill(pid, signal.SIGTERM)
    if not _wait_gone(pid, started, timeout):
        os.kill(pid, signal.SIGKILL)
        if not _wait_gone(pid, started, 10):
            raise fail(f"{name} (pid {pid}) is still running 10 s after SIGKILL")
    pid_file(cfg, name).unlink(missing_ok=True)
    say(f"stopped {name} (pid {pid})")


def kill(cfg: Config, name: str, timeout: float = 10.0) -> int:
    """SIGKILL `name` (failure tests) and return once it is really gone; fails if it was not running."""
    path = pid_file(cfg, name)
    saved = _read_pid_file(path)
    if saved is None:
        raise fail(f"kill {name}: not running (no pid file {path})")
    pid, started = saved
    if running_pid(cfg, name) is None:
        raise fail(f"kill {name}: not running (pid {pid} from {path} has exited)")
    os.kill(pid, signal.SIGKILL)
    if not _wait_gone(pid, started, timeout):
        raise fail(f"kill {name}: pid {pid} is still running {timeout:.0f} s after SIGKILL")
    path.unlink(missing_ok=True)
    say(f"killed {name} (pid {pid})")
    return pid


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def require_free(port: int, what: str, variable: str) -> None:
    """Fail at once, not after a start-up timeout, when something else holds the port."""
    if port_open(port):
        raise fail(
            f"{what}: port {port} is in use by a process devstack did not start "
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
    raise fail(f"{what} did not become ready in {timeout:.0f} s")


def http_ok(url: str) -> bool:
    with urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback URLs devstack builds itself
        return bool(resp.status == 200)
