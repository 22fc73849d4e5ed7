"""Ports for servers a test starts (SMTP sinks, webhook receivers, service processes)."""

from __future__ import annotations

import random
import socket
from pathlib import Path

# Picked below the kernel's ephemeral range: a port handed out there can be taken, before the test's
# server binds it, as the local port of any outgoing connection (the suite opens thousands, several
# xdist workers at once). Random rather than sequential, so that concurrent runs rarely pick alike.
_LOWEST = 10000


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    highest = _ephemeral_start() - 1
    if highest - _LOWEST >= 1000:
        for _ in range(50):
            port = random.randint(_LOWEST, highest)
            if _bindable(port):
                return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        found: int = sock.getsockname()[1]
        return found
