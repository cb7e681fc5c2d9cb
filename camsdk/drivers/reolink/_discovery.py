"""Reolink LAN discovery: the UDP broadcast probe the Reolink client apps send.

Reolink does not document it; the community knows it from the client apps
(and one Home Assistant custom integration reads it): a 4-byte probe
``aa aa 00 00`` broadcast to UDP port 2000 is answered by every Reolink
camera and NVR on the link with a 388-byte datagram, sent to port 3000
(broadcast) or back to the probe's source port depending on firmware. The
answer echoes the probe at bytes 104..108 (our check that it is an answer
at all); the other fields are read as *best effort*, each a NUL-terminated
ASCII string: the device's name at 132, its MAC at 164, its P2P UID at 228
and a type string at 58 (``IPC`` on some models). The camera URL always
uses the address the datagram came from, never the one inside it.

`probe` listens on port 3000 and sends the probe from that same socket, so
both reply styles reach it; it runs only when the caller asks
(``camsdk.discover``), sends two probes, and keeps at most `MAX_RESULTS`
answers. Tests give ``target=`` and ``listen=`` on loopback and never
broadcast.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator

from camsdk.driver import DiscoveredCamera, get_logger

__all__ = ["PROBE", "PROBE_PORT", "REPLY_PORT", "REPLY_SIZE", "parse_reply", "probe"]

log = get_logger("camsdk.reolink.discovery")

PROBE = bytes((0xAA, 0xAA, 0x00, 0x00))
PROBE_PORT = 2000
REPLY_PORT = 3000
REPLY_SIZE = 388
BROADCAST = "255.255.255.255"
MAX_RESULTS = 1024
_ECHO = slice(104, 108)


def _text(data: bytes, start: int, length: int) -> str:
    raw = data[start:start + length].split(b"\0", 1)[0]
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return ""
    return text if text.isprintable() else ""


def parse_reply(data: bytes, sender: str) -> DiscoveredCamera | None:
    """The camera in one answer datagram, or ``None`` when it is not an answer."""
    if len(data) != REPLY_SIZE or data[_ECHO] != PROBE:
        return None
    name = _text(data, 132, 32)
    mac = _text(data, 164, 18) or data[80:86].hex(":").upper()
    uid = _text(data, 228, 32)
    kind = _text(data, 58, 18)
    host = f"[{sender}]" if ":" in sender else sender
    scopes = tuple(s for s in (f"mac:{mac}" if mac else "", f"uid:{uid}" if uid else "") if s)
    return DiscoveredCamera(
        url=f"reolink://{host}", name=name, vendor="Reolink", model=kind, address=sender,
        scopes=scopes, driver="reolink",
    )


class _Listener(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answers: asyncio.Queue[tuple[bytes, str]] = asyncio.Queue(maxsize=4096)
        self.closed = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.answers.put_nowait((data, str(addr[0])))

    def error_received(self, exc: Exception) -> None:
        log.debug("discovery socket error: %s", exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


def _loopback(host: str) -> bool:
    return host.startswith("127.") or host in ("::1", "localhost")


async def probe(
    timeout: float,
    *,
    target: tuple[str, int] | None = None,
    listen: tuple[str, int] | None = None,
) -> AsyncIterator[DiscoveredCamera]:
    """Yield Reolink devices that answer within ``timeout`` seconds (module docstring)."""
    host, port = target if target is not None else (BROADCAST, PROBE_PORT)
    loopback = _loopback(host)
    local = listen or (("127.0.0.1", 0) if loopback else ("0.0.0.0", REPLY_PORT))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if not loopback:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.setblocking(False)
        try:
            sock.bind(local)
        except OSError:
            # Port 3000 taken (another app listens for Reolink answers): devices
            # that answer the probe's own port still reach us.
            sock.bind((local[0], 0))
    except OSError:
        sock.close()
        raise
    loop = asyncio.get_running_loop()
    transport, listener = await loop.create_datagram_endpoint(_Listener, sock=sock)
    again: asyncio.TimerHandle | None = None
    try:
        transport.sendto(PROBE, (host, port))
        again = loop.call_later(
            min(0.25, timeout / 4),
            lambda: None if transport.is_closing() else transport.sendto(PROBE, (host, port)),
        )
        seen: set[str] = set()
        deadline = time.monotonic() + timeout
        while len(seen) < MAX_RESULTS:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                async with asyncio.timeout(remaining):
                    data, sender = await listener.answers.get()
            except TimeoutError:
                break
            camera = parse_reply(data, sender)
            if camera is not None and camera.url not in seen:
                seen.add(camera.url)
                yield camera
    finally:
        if again is not None:
            again.cancel()
        transport.close()
        with contextlib.suppress(Exception):
            await asyncio.shield(listener.closed)
