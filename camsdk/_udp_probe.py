"""One UDP probe for LAN discovery: send a datagram, collect the answers until a deadline.

Vendors find their devices on the local link in the same way: one datagram
(a WS-Discovery ``Probe``, an SADP inquiry, ``DHDiscover.search``, four
magic bytes ...) sent to a multicast or broadcast address, then every
answer that reaches the probe's socket before the timeout. Only the message
and the reading of an answer differ, so a driver gives those two and this
module does the rest:

- The socket is on loopback for a loopback target
  (tests), otherwise on all interfaces with a multicast TTL of 1 (a probe
  never leaves the link), optionally on a fixed port where devices answer
  (falling back to an ephemeral one when that port is taken), allowed to
  broadcast, or a member of the target's multicast group.
- `udp_probe` sends the message (again after a short while: UDP may drop
  it), reads answers until the deadline and yields what the vendor's
  ``parse`` callback makes of each, de-duplicated by the identity it gives
  and capped in number. Answers are untrusted: a datagram larger than
  ``max_datagram`` is dropped unread, at most `QUEUED_ANSWERS` wait to be
  parsed (more are dropped), and ``parse`` decides what counts as an answer.

The socket is closed when the iteration ends, however it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TypeVar

from ._log import get_logger

__all__ = ["MAX_RESULTS", "QUEUED_ANSWERS", "is_loopback_host", "udp_probe"]

log = get_logger("camsdk.discovery")

T = TypeVar("T")

#: Answers waiting to be parsed at most; a flood beyond this is dropped.
QUEUED_ANSWERS = 4096
#: How many distinct devices one probe yields at most: a flood of answers is not a network.
MAX_RESULTS = 1024
#: The largest UDP payload; callers may ask for a smaller bound.
MAX_DATAGRAM = 65535
#: The probe is sent again after this long (or a quarter of the timeout, if shorter).
REPEAT_AFTER = 0.25


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` names this machine (a test's responder, never the network)."""
    return host.startswith("127.") or host in ("::1", "localhost")


def _probe_socket(
    target: tuple[str, int],
    *,
    listen_port: int,
    local: tuple[str, int] | None,
    broadcast: bool,
    join_group: bool,
) -> socket.socket:
    """A non-blocking IPv4 UDP socket for probing ``target`` (see `udp_probe`)."""
    loopback = is_loopback_host(target[0])
    if local is None:
        local = ("127.0.0.1", 0) if loopback else ("0.0.0.0", listen_port)
    group = target[0] if join_group and not loopback else None
    sock = _bound_socket(local, broadcast=broadcast, join=group)
    try:
        if not loopback:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _bound_socket(
    local: tuple[str, int], *, broadcast: bool, join: str | None
) -> socket.socket:
    sock = _new_socket(broadcast)
    try:
        if local[1]:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(local)
            if join is not None:
                membership = struct.pack("4s4s", socket.inet_aton(join), bytes(4))
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        except OSError:
            if not local[1]:
                raise
            # The port is taken (another app listens for the same answers) or the
            # group cannot be joined: an ephemeral port still hears unicast answers.
            sock.close()
            sock = _new_socket(broadcast)
            sock.bind((local[0], 0))
    except BaseException:
        sock.close()
        raise
    return sock


def _new_socket(broadcast: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    if broadcast:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        except BaseException:
            sock.close()
            raise
    return sock


class _Answers(asyncio.DatagramProtocol):
    """Datagrams that reached the probe's socket, bounded in size and number."""

    def __init__(self, max_datagram: int) -> None:
        self.queue: asyncio.Queue[tuple[bytes, str]] = asyncio.Queue(maxsize=QUEUED_ANSWERS)
        self.closed = asyncio.get_running_loop().create_future()
        self._max_datagram = max_datagram

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if len(data) > self._max_datagram:
            return
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait((data, str(addr[0])))

    def error_received(self, exc: Exception) -> None:
        log.debug("discovery socket error: %s", exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def udp_probe(
    target: tuple[str, int],
    message: bytes,
    timeout: float,
    parse: Callable[[bytes, str], Iterable[tuple[str, T]]],
    *,
    listen_port: int = 0,
    local: tuple[str, int] | None = None,
    broadcast: bool = False,
    join_group: bool = False,
    max_results: int = MAX_RESULTS,
    max_datagram: int = MAX_DATAGRAM,
) -> AsyncIterator[T]:
    """Send ``message`` to ``target`` and yield what answers within ``timeout`` seconds.

    ``parse(data, sender)`` reads one datagram from the address ``sender``
    and returns ``(identity, item)`` pairs (none for a datagram that is not
    an answer; several where one answer lists several devices). An item is
    yielded the first time its identity is seen; at most ``max_results``
    are; a datagram larger than ``max_datagram`` bytes is dropped unread.

    The socket: ``local`` binds exactly there (tests); otherwise a loopback
    target gets an ephemeral loopback port and any other target
    ``listen_port`` on all interfaces (where devices send their answers).
    A fixed port that is taken, or the target's multicast group that cannot
    be joined (``join_group``), falls back to an ephemeral port: devices
    that answer the probe's own port still reach it. ``broadcast`` allows
    sending to a broadcast address. Nothing is opened before the first
    iteration; the socket is closed when the iteration ends.
    """
    sock = _probe_socket(
        target, listen_port=listen_port, local=local, broadcast=broadcast, join_group=join_group
    )
    loop = asyncio.get_running_loop()
    try:
        transport, answers = await loop.create_datagram_endpoint(
            lambda: _Answers(max_datagram), sock=sock
        )
    except BaseException:
        sock.close()
        raise
    repeat: asyncio.TimerHandle | None = None
    try:
        transport.sendto(message, target)
        repeat = loop.call_later(
            min(REPEAT_AFTER, timeout / 4),
            lambda: None if transport.is_closing() else transport.sendto(message, target),
        )
        seen: set[str] = set()
        deadline = loop.time() + timeout
        while len(seen) < max_results and (remaining := deadline - loop.time()) > 0:
            try:
                async with asyncio.timeout(remaining):
                    data, sender = await answers.queue.get()
            except TimeoutError:
                break
            for identity, item in parse(data, sender):
                if identity not in seen and len(seen) < max_results:
                    seen.add(identity)
                    yield item
    finally:
        if repeat is not None:
            repeat.cancel()
        transport.close()
        # Let the loop really close the socket before returning (leak checks look).
        with contextlib.suppress(Exception):
            await asyncio.shield(answers.closed)
