"""Ports for servers a test starts of its own (a throwaway broker, PostgreSQL, an SMTP sink)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on right now, on 127.0.0.1 (and, for a test that wants one, a refused connection)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
