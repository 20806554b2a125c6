"""The development mail sink's Maildir (`.infra/mail`), read the cheap way.

The folder keeps every run's mail (tens of thousands of messages on a development machine): parsing all of them
on every poll can take longer than a test waits. A test only looks for mail that arrived while it ran.
"""

from __future__ import annotations

import mailbox
import os
import time
from pathlib import Path

RECENT_SECONDS = 1800.0  # longer than any one test runs


def recent_mail(mail_dir: str | Path, within_seconds: float = RECENT_SECONDS) -> list[mailbox.MaildirMessage]:
    """The messages delivered to the Maildir in the last `within_seconds` (by their file's time)."""
    new = Path(mail_dir) / "new"
    if not new.exists():
        return []
    since = time.time() - within_seconds
    found = []
    for entry in os.scandir(new):
        if entry.is_file() and entry.stat().st_mtime >= since:
            found.append(mailbox.MaildirMessage(Path(entry.path).read_bytes()))
    return found
