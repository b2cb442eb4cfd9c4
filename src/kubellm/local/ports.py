"""Local TCP ports: is one free, which free one to suggest, which to give each engine replica."""

from __future__ import annotations

import socket

from kubellm.errors import UsageError

LOOPBACK = "127.0.0.1"


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Nothing listens on ``host:port`` and we may bind it.

    SO_REUSEADDR as servers set it (aiohttp, uvicorn): connections of an earlier server left in
    TIME_WAIT do not make a port busy, a listener does.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = LOOPBACK) -> int:
    """A port the kernel says is free right now (there is a short window before someone binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """``count`` distinct ports free right now (all held open while choosing, so none repeats)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def next_free_port(start: int, host: str = LOOPBACK, tries: int = 200) -> int:
    """The first free port at or above ``start``; the kernel's pick if none in ``tries``."""
    for port in range(max(start, 1024), min(max(start, 1024) + tries, 65536)):
        if port_is_free(port, host):
            return port
    return free_port(host)


def ensure_port_free(port: int, host: str = LOOPBACK, flag: str = "--port") -> None:
    """Raise a UsageError naming a free port when ``port`` is taken."""
    if not 0 < port < 65536:
        raise UsageError(f"port {port} is out of range", f"pass {flag} between 1 and 65535")
    if port_is_free(port, host):
        return
    suggestion = next_free_port(port + 1, host)
    raise UsageError(
        f"port {port} on {host} is already in use (another server, or an earlier `kubellm up`)",
        f"stop what holds it, or pass {flag} {suggestion} (free now)",
    )
