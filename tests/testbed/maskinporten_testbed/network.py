"""Loopback networking for the test bed: ports nothing listens on yet."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback TCP port that is free now (the kernel picks it; it may be taken later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def accepts_connections(host: str, port: int) -> bool:
    """Whether something listens on ``host:port`` (a connection is made and closed at once)."""
    try:
        with socket.create_connection((host, port), timeout=5):
            return True
    except ConnectionRefusedError:
        return False
