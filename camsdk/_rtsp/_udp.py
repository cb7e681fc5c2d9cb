"""RTP over UDP: a client port pair per track and the reordering in front of it.

The RTP port is even and the RTCP port the next one (RFC 3550 11). Both are
bound on the address the RTSP connection uses, and only datagrams from the
camera's address are taken (anyone else could inject packets). RTP goes
through a `ReorderBuffer`, whose time bound runs on one loop timer (no task).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import time
from collections.abc import Callable

from camsdk._errors import CameraUnreachableError

from ._rtp import ReorderBuffer

__all__ = ["UdpPair", "open_udp_pair"]

_BIND_ATTEMPTS = 32


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, peer: str, handler: Callable[[bytes], None]) -> None:
        self.peer = peer
        self.handler = handler
        self.transport: asyncio.DatagramTransport | None = None
        self.datagrams = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Remember the transport."""
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        """Pass on datagrams from the camera's address; drop everyone else's."""
        if addr[0] != self.peer:
            return
        self.datagrams += 1
        self.handler(data)

    def error_received(self, exc: Exception) -> None:
        """ICMP errors (port unreachable for our RTCP): the camera will tell over RTSP."""


class UdpPair:
    """The RTP and RTCP sockets of one track."""

    def __init__(self, rtp: asyncio.DatagramTransport, rtcp: asyncio.DatagramTransport,
                 rtp_receiver: _Receiver, rtcp_receiver: _Receiver, port: int) -> None:
        self._rtp = rtp
        self._rtcp = rtcp
        self._rtp_receiver = rtp_receiver
        self._rtcp_receiver = rtcp_receiver
        self.port = port
        self.server_rtcp: tuple[str, int] | None = None
        self._reorder: ReorderBuffer | None = None
        self._timer: asyncio.TimerHandle | None = None
        #: Done when the first RTP datagram arrived (``auto`` checks UDP gets through).
        self.first_datagram: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @property
    def datagrams(self) -> int:
        """RTP datagrams received from the camera."""
        return self._rtp_receiver.datagrams

    def attach(self, on_rtp: Callable[[bytes], None], on_rtcp: Callable[[bytes], None], *,
               window: int, delay: float, on_lost: Callable[[int], None]) -> None:
        """Route RTP (through the reorder buffer) and RTCP to a track."""
        reorder = ReorderBuffer(on_rtp, on_lost, window=window, delay=delay)
        self._reorder = reorder
        loop = asyncio.get_running_loop()

        def expire() -> None:
            self._timer = None
            reorder.expire(time.monotonic())
            arm()

        def arm() -> None:
            deadline = reorder.deadline
            if deadline is not None and self._timer is None:
                self._timer = loop.call_at(loop.time() + max(0.0, deadline - time.monotonic()),
                                           expire)

        first = self.first_datagram

        def rtp(data: bytes) -> None:
            if len(data) < 12:
                return
            if not first.done():
                first.set_result(None)
            reorder.push((data[2] << 8) | data[3], data, time.monotonic())
            if reorder.held:
                arm()

        self._rtp_receiver.handler = rtp
        self._rtcp_receiver.handler = on_rtcp

    def send_rtcp(self, data: bytes) -> None:
        """Send an RTCP packet (receiver report) to the camera's RTCP port."""
        if self.server_rtcp is not None and not self._rtcp.is_closing():
            with contextlib.suppress(OSError):
                self._rtcp.sendto(data, self.server_rtcp)

    def close(self) -> None:
        """Close both sockets and stop the timer."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._rtp.close()
        self._rtcp.close()


def _same(receiver: _Receiver) -> _Receiver:
    return receiver


async def open_udp_pair(local_host: str, peer_host: str) -> UdpPair:
    """Bind an even RTP port and the odd RTCP port above it on ``local_host``."""
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in local_host else socket.AF_INET
    for _ in range(_BIND_ATTEMPTS):
        rtp_sock = socket.socket(family, socket.SOCK_DGRAM)
        rtcp_sock: socket.socket | None = None
        try:
            rtp_sock.bind((local_host, 0))
            port = rtp_sock.getsockname()[1]
            if port % 2 or port >= 65535:
                continue
            rtcp_sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                rtcp_sock.bind((local_host, port + 1))
            except OSError:
                continue
            with contextlib.suppress(OSError):
                # Bursts of a keyframe arrive faster than the loop may read them.
                rtp_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            rtp_recv = _Receiver(peer_host, lambda _d: None)
            rtcp_recv = _Receiver(peer_host, lambda _d: None)
            rtp_t, _ = await loop.create_datagram_endpoint(
                functools.partial(_same, rtp_recv), sock=rtp_sock)
            try:
                rtcp_t, _ = await loop.create_datagram_endpoint(
                    functools.partial(_same, rtcp_recv), sock=rtcp_sock)
            except BaseException:
                rtp_t.close()
                rtcp_sock.close()
                raise
            rtp_sock = rtcp_sock = None  # type: ignore[assignment]
            return UdpPair(rtp_t, rtcp_t, rtp_recv, rtcp_recv, port)
        except OSError as exc:
            raise CameraUnreachableError(f"cannot bind UDP ports: {exc.strerror or exc}") from exc
        finally:
            if rtp_sock is not None:
                rtp_sock.close()
            if rtcp_sock is not None:
                rtcp_sock.close()
    raise CameraUnreachableError("no free even/odd UDP port pair")
