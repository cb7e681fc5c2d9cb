"""Small helpers for tests of cameras: a port where nothing listens, a bounded wait."""

from __future__ import annotations

import socket
from collections.abc import Callable

import anyio

__all__ = ["closed_port", "wait_until"]


def closed_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` where nothing listens (bound, then released)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port


async def wait_until(
    predicate: Callable[[], bool], *, timeout: float = 10.0, interval: float = 0.01
) -> None:
    """Wait until ``predicate()`` is true, checking every ``interval``; `TimeoutError` after.

    For state that offers no event to wait on (a counter of a simulated
    device): the check is what synchronises, the interval only paces it.
    """
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(interval)
